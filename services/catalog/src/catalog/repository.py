"""The catalogue's storage: all of the service's SQL. Every change that others must see is published through the
outbox, in the same transaction: `catalog.service.v1` and `catalog.site.v1` carry the full state, keyed by code;
a retire is a tombstone."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import asyncpg

from catalog.domain import Agency, AgencySchedule, Catalogue, ServiceType, Site
from mpp_contracts.catalog import (
    WEEKDAYS,
    AgencyHours,
    Hours,
    RequirementItem,
    ServiceAvailability,
    ServiceTypeChanged,
    SiteChanged,
    SiteState,
)
from mpp_contracts.topics import CATALOG_SERVICE, CATALOG_SITE
from mpp_kit.outbox import enqueue


def availability(catalogue: Catalogue, service: ServiceType) -> ServiceAvailability:
    return ServiceAvailability(
        code=service.code,
        name=service.name,
        agency_code=service.agency_code,
        channel=service.channel,
        central_only_reason=service.central_only_reason,
        completion_days=service.completion.completion_days,
        requirements=tuple(r.name for r in service.requirements),
        originals=tuple(r.name for r in service.requirements if r.form == "original" and not r.optional),
        checklist=tuple(
            RequirementItem(name=r.name, form=r.form, optional=r.optional) for r in service.requirements
        ),
        collected_at=service.collected_at,
        sites=tuple(site.slug for site in catalogue.sites_offering(service)),
        version=service.version,
    )


def site_state(catalogue: Catalogue, site: Site) -> SiteState:
    hours = {
        day: Hours(opens=h.opens, closes=h.closes) for day in WEEKDAYS if (h := site.opening_hours.on(day))
    }
    schedules = tuple(
        AgencyHours(
            agency_code=s.agency_code,
            days=tuple(s.days),
            opens=s.opens,
            closes=s.closes,
            daily_quota=s.daily_quota,
            slot_minutes=s.slot_minutes,
            counters=s.counters,
            services=tuple(s.services) if s.services is not None else None,
            closed_on=tuple(s.closed_on),
        )
        for s in catalogue.schedules_for(site_slug=site.slug)
    )
    return SiteState(
        slug=site.slug,
        name=site.name,
        short_name=site.short_name or "",
        kind=site.kind,
        kemendagri_code=site.kemendagri_code,
        address=site.address,
        timezone=site.timezone,
        opening_hours=hours,
        schedules=schedules,
        closed_on=tuple(site.closed_on),
        central_lead_days=site.central_lead_days,
    )


async def lock_seeding(conn: asyncpg.Connection) -> None:
    """Serialise seeding between replicas for the rest of the transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('catalog.seed'))")


async def lock_sites(conn: asyncpg.Connection) -> None:
    """Serialise site changes for the rest of the transaction (a new site has no row to lock yet)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('catalog.sites'))")


async def is_empty(conn: asyncpg.Connection) -> bool:
    return not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM service_type)")


async def seed(conn: asyncpg.Connection, catalogue: Catalogue) -> None:
    """Store a whole data set in an empty catalogue and publish every service and site."""
    for agency in catalogue.agencies:
        await conn.execute(
            "INSERT INTO agency(code, body) VALUES ($1, $2::jsonb)", agency.code, agency.model_dump_json()
        )
    for position, schedule in enumerate(catalogue.schedules):
        await conn.execute(
            "INSERT INTO agency_schedule(agency, site, position, body) VALUES ($1, $2, $3, $4::jsonb)",
            schedule.agency_code,
            schedule.site,
            position,
            schedule.model_dump_json(),
        )
    for site in catalogue.sites:
        await save_site(conn, catalogue, site)
    for service in catalogue.services:
        await save_service(conn, catalogue, service)


async def save_site(conn: asyncpg.Connection, catalogue: Catalogue, site: Site, version: int = 1) -> None:
    await conn.execute(
        "INSERT INTO site(slug, kind, body, version) VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT (slug) DO UPDATE"
        " SET kind = excluded.kind, body = excluded.body, version = excluded.version, updated_at = now()",
        site.slug,
        site.kind,
        site.model_dump_json(),
        version,
    )
    state = site_state(catalogue, site).model_copy(update={"version": version})
    await enqueue(conn, CATALOG_SITE.name, site.slug, SiteChanged(site=state))


async def site_version(conn: asyncpg.Connection, slug: str, *, lock: bool = False) -> int | None:
    """The stored version of a site (None: no such site), locked for the rest of the transaction if asked."""
    version: int | None = await conn.fetchval(
        "SELECT version FROM site WHERE slug = $1" + (" FOR UPDATE" if lock else ""), slug
    )
    return version


async def save_service(
    conn: asyncpg.Connection, catalogue: Catalogue, service: ServiceType
) -> ServiceAvailability:
    state = availability(catalogue, service)
    await conn.execute(
        "INSERT INTO service_type(code, agency, version, body, sites) VALUES ($1, $2, $3, $4::jsonb, $5)"
        " ON CONFLICT (code) DO UPDATE SET agency = excluded.agency, version = excluded.version,"
        " body = excluded.body, sites = excluded.sites, retired_at = NULL, updated_at = now()",
        service.code,
        service.agency_code,
        service.version,
        service.model_dump_json(),
        list(state.sites),
    )
    await enqueue(conn, CATALOG_SERVICE.name, service.code, ServiceTypeChanged(service=state))
    return state


async def retire_service(conn: asyncpg.Connection, code: str) -> None:
    await conn.execute("UPDATE service_type SET retired_at = now(), updated_at = now() WHERE code = $1", code)
    await enqueue(conn, CATALOG_SERVICE.name, code, None, event_id=uuid4())  # tombstone: consumers drop it


async def service_row(conn: asyncpg.Connection, code: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT code, version, body, sites, retired_at FROM service_type WHERE code = $1"
        + (" FOR UPDATE" if lock else ""),
        code,
    )


async def published_service(conn: asyncpg.Connection, code: str) -> tuple[dict[str, Any], int] | None:
    """A service's stored standar pelayanan with the slugs of the sites offering it, and its version (None: no
    such service, or retired)."""
    row = await conn.fetchrow(
        "SELECT body, sites, version FROM service_type WHERE code = $1 AND retired_at IS NULL", code
    )
    if row is None:
        return None
    return {**json.loads(row["body"]), "sites": list(row["sites"])}, row["version"]


async def current(conn: asyncpg.Connection) -> Catalogue:
    """The catalogue as stored now (retired services left out)."""
    agencies = [Agency.model_validate_json(r["body"]) for r in await conn.fetch("SELECT body FROM agency")]
    sites = [
        Site.model_validate_json(r["body"]) for r in await conn.fetch("SELECT body FROM site ORDER BY slug")
    ]
    schedules = [
        AgencySchedule.model_validate_json(r["body"])
        for r in await conn.fetch("SELECT body FROM agency_schedule ORDER BY agency, site, position")
    ]
    services = [
        ServiceType.model_validate_json(r["body"])
        for r in await conn.fetch("SELECT body FROM service_type WHERE retired_at IS NULL ORDER BY code")
    ]
    return Catalogue.model_construct(agencies=agencies, services=services, sites=sites, schedules=schedules)
