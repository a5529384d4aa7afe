"""Catalogue operations behind the admin API: validation against the rest of the catalogue, optimistic
concurrency on the version, and the in-memory snapshot that serves search."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from catalog import repository
from catalog.search import SearchIndex
from catalog.standards import Catalogue, ServiceType, Site, cross_check
from mpp_kit.errors import ApiError, FieldProblem

log = logging.getLogger(__name__)


class Snapshot:
    """The current catalogue and its search index, rebuilt after each change made through this process and
    every `refresh_s` seconds (changes made through another replica)."""

    def __init__(self) -> None:
        self.catalogue = Catalogue.model_construct(agencies=[], services=[], sites=[], schedules=[])
        self.index = SearchIndex([])
        self.loaded = False

    async def refresh(self, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            catalogue = await repository.current(conn)
        self.catalogue, self.index, self.loaded = catalogue, SearchIndex(catalogue.services), True

    async def follow(self, pool: asyncpg.Pool, refresh_s: float) -> None:
        while True:
            await asyncio.sleep(refresh_s)
            try:
                await self.refresh(pool)
            except Exception:
                log.exception("catalogue snapshot refresh failed")


def _problems_for(catalogue: Catalogue, service: ServiceType) -> list[FieldProblem]:
    others = [s for s in catalogue.services if s.code != service.code]
    issues = cross_check(catalogue.agencies, [*others, service], catalogue.sites, [])
    return [FieldProblem(field=i.field, reason=i.message) for i in issues if i.key == service.code]


async def _save_if_it_fits(conn: asyncpg.Connection, service: ServiceType) -> None:
    """Save and publish the service, or refuse with 422 if it does not fit the rest of the catalogue."""
    catalogue = await repository.current(conn)
    if problems := _problems_for(catalogue, service):
        raise ApiError(422, "validation_failed", "the service does not fit the catalogue", problems)
    await repository.save_service(conn, catalogue, service)


def _stale(current: int, given: int | None) -> ApiError:
    return ApiError(
        409,
        "version_conflict",
        f"it is at version {current} now; reload it and apply your change again",
        [FieldProblem(field="version", reason=f"expected {current}, got {given}")],
    )


async def create_service(pool: asyncpg.Pool, service: ServiceType) -> ServiceType:
    async with pool.acquire() as conn, conn.transaction():
        if await repository.service_row(conn, service.code, lock=True) is not None:
            raise ApiError(
                409,
                "already_exists",
                "a service with this code exists (update or reinstate it)",
                [FieldProblem(field="code", reason="already used")],
            )
        created = service.model_copy(update={"version": 1})
        await _save_if_it_fits(conn, created)
    return created


async def update_service(
    pool: asyncpg.Pool, code: str, service: ServiceType, if_match: int | None
) -> ServiceType:
    if service.code != code:
        raise ApiError(
            422,
            "validation_failed",
            "the code in the body differs from the one in the path",
            [FieldProblem(field="code", reason=f"must be {code}")],
        )
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.service_row(conn, code, lock=True)
        if row is None:
            raise ApiError(
                404, "not_found", "no such service", [FieldProblem(field="code", reason="unknown")]
            )
        expected = if_match if if_match is not None else service.version
        if expected != row["version"]:
            raise _stale(row["version"], expected)
        updated = service.model_copy(update={"version": row["version"] + 1})
        await _save_if_it_fits(conn, updated)
    return updated


async def retire_service(pool: asyncpg.Pool, code: str, if_match: int | None) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.service_row(conn, code, lock=True)
        if row is None or row["retired_at"] is not None:
            raise ApiError(
                404, "not_found", "no such service", [FieldProblem(field="code", reason="unknown")]
            )
        if if_match is None:
            raise ApiError(
                428,
                "precondition_required",
                "send If-Match with the version you are retiring",
                [FieldProblem(field="If-Match", reason="required")],
            )
        if if_match != row["version"]:
            raise _stale(row["version"], if_match)
        await repository.retire_service(conn, code)


async def put_site(pool: asyncpg.Pool, slug: str, site: Site, if_match: int | None) -> int:
    """Create a site (no If-Match) or replace one (If-Match: its version); services whose availability changes
    with it are republished too. Returns the site's new version."""
    if site.slug != slug:
        raise ApiError(
            422,
            "validation_failed",
            "the slug in the body differs from the one in the path",
            [FieldProblem(field="slug", reason=f"must be {slug}")],
        )
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('catalog.sites'))")
        stored = await repository.site_version(conn, slug)
        if stored is not None and if_match is None:
            raise ApiError(
                428,
                "precondition_required",
                "send If-Match with the version of the site you changed",
                [FieldProblem(field="If-Match", reason="required to replace a site")],
            )
        if stored is not None and if_match != stored:
            raise _stale(stored, if_match)
        if stored is None and if_match is not None:
            raise ApiError(
                404, "not_found", "no such site to replace", [FieldProblem(field="slug", reason="unknown")]
            )
        version = 1 if stored is None else stored + 1
        before = await repository.current(conn)
        after = before.model_copy(update={"sites": [s for s in before.sites if s.slug != slug] + [site]})
        issues = cross_check(after.agencies, after.services, after.sites, after.schedules)
        if issues:
            raise ApiError(
                422,
                "validation_failed",
                "the site does not fit the catalogue",
                [FieldProblem(field=i.field, reason=str(i)) for i in issues[:50]],
            )
        await repository.save_site(conn, after, site, version)
        for service in after.services:
            if (
                repository.availability(after, service).sites
                != repository.availability(before, service).sites
            ):
                await repository.save_service(conn, after, service)
    return version
