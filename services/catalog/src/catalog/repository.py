"""The catalogue's storage: upserts that publish only what changed, through the outbox."""

from __future__ import annotations

import json

import asyncpg
from mpp_contracts.catalog import (
    AgencyHours,
    Hours,
    ServiceAvailability,
    ServiceTypeChanged,
    SiteChanged,
    SiteState,
)
from mpp_contracts.topics import CATALOG_SERVICE, CATALOG_SITE
from mpp_kit.outbox import enqueue

from catalog.standards import WEEKDAYS, Catalogue, ServiceType, Site


def availability(catalogue: Catalogue, service: ServiceType) -> ServiceAvailability:
    return ServiceAvailability(
        code=service.code,
        name=service.name,
        agency_code=service.agency,
        channel=service.channel,
        central_only_reason=service.central_reason,
        completion_days=service.completion.working_days,
        requirements=tuple(r.name for r in service.requirements),
        originals=tuple(r.name for r in service.requirements if r.form == "original" and not r.optional),
        sites=tuple(site.slug for site in catalogue.sites if catalogue.offered_at(service, site)),
        version=service.version,
    )


def site_state(catalogue: Catalogue, site: Site) -> SiteState:
    hours = {day: Hours(opens=h.opens, closes=h.closes) for day in WEEKDAYS if (h := site.opening_hours.on(day))}
    schedules = tuple(
        AgencyHours(
            agency_code=s.agency,
            days=tuple(s.days),
            opens=s.opens,
            closes=s.closes,
            daily_quota=s.daily_quota,
            slot_minutes=s.slot_minutes,
            counters=s.counters,
            services=tuple(s.services) if s.services is not None else None,
        )
        for s in catalogue.schedules
        if s.site == site.slug
    )
    return SiteState(
        slug=site.slug,
        name=site.name,
        kind=site.kind,
        kemendagri_code=site.kemendagri_code,
        address=site.address,
        timezone=site.timezone,
        opening_hours=hours,
        schedules=schedules,
    )


async def load(conn: asyncpg.Connection, catalogue: Catalogue) -> tuple[int, int]:
    """Store the data set; publish every service or site whose state changed. Returns (services, sites) changed."""
    changed_sites = 0
    for site in catalogue.sites:
        body = site_state(catalogue, site).model_dump_json()
        moved = await conn.fetchval(
            "INSERT INTO site(slug, kind, body) VALUES ($1, $2, $3::jsonb) ON CONFLICT (slug) DO UPDATE"
            " SET kind = excluded.kind, body = excluded.body, updated_at = now()"
            " WHERE site.body IS DISTINCT FROM excluded.body RETURNING true",
            site.slug,
            site.kind,
            body,
        )
        if moved:
            changed_sites += 1
            await enqueue(conn, CATALOG_SITE.name, site.slug, SiteChanged(site=site_state(catalogue, site)))
    changed_services = 0
    for service in catalogue.services:
        state = availability(catalogue, service)
        moved = await conn.fetchval(
            "INSERT INTO service_type(code, agency, version, body, sites) VALUES ($1, $2, $3, $4::jsonb, $5)"
            " ON CONFLICT (code) DO UPDATE SET agency = excluded.agency, version = excluded.version,"
            " body = excluded.body, sites = excluded.sites, updated_at = now()"
            " WHERE service_type.body IS DISTINCT FROM excluded.body OR service_type.sites <> excluded.sites"
            " RETURNING true",
            service.code,
            service.agency,
            service.version,
            service.model_dump_json(),
            list(state.sites),
        )
        if moved:
            changed_services += 1
            await enqueue(conn, CATALOG_SERVICE.name, service.code, ServiceTypeChanged(service=state))
    return changed_services, changed_sites


async def get_service(conn: asyncpg.Connection, code: str) -> dict[str, object] | None:
    row = await conn.fetchrow(
        "SELECT body, sites FROM service_type WHERE code = $1 AND retired_at IS NULL", code
    )
    if row is None:
        return None
    return {**json.loads(row["body"]), "sites": list(row["sites"])}


async def list_sites(conn: asyncpg.Connection) -> list[dict[str, object]]:
    rows = await conn.fetch("SELECT body FROM site ORDER BY kind, slug")
    return [json.loads(r["body"]) for r in rows]


async def services_at(
    conn: asyncpg.Connection, site: str, limit: int, offset: int
) -> list[dict[str, object]]:
    rows = await conn.fetch(
        "SELECT code, body->>'name' AS name, agency, body->>'channel' AS channel FROM service_type"
        " WHERE $1 = ANY(sites) AND retired_at IS NULL ORDER BY code LIMIT $2 OFFSET $3",
        site,
        limit,
        offset,
    )
    return [dict(r) for r in rows]
