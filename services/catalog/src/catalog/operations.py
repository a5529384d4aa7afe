"""The catalogue's use cases: seeding an empty catalogue, and the admin changes (checked against the rest of the
catalogue, with optimistic concurrency on the version), each in one transaction with its events."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

from catalog import repository
from catalog.domain import Catalogue, ServiceType, Site, cross_check
from catalog.seed import load_catalogue
from mpp_kit.errors import (
    ApiError,
    FieldProblem,
    conflict,
    invalid,
    not_found,
    precondition_required,
    stale,
)

log = logging.getLogger(__name__)


async def seed_if_empty(pool: asyncpg.Pool, data_dir: Path) -> None:
    """Fill an empty catalogue from the data set `data_dir` (one replica seeds; the others then find it full)."""
    async with pool.acquire() as conn, conn.transaction():
        await repository.lock_seeding(conn)
        if not await repository.is_empty(conn):
            return
        catalogue = load_catalogue(data_dir)
        await repository.seed(conn, catalogue)
    log.info(
        "catalogue seeded",
        extra={"services": len(catalogue.services), "sites": len(catalogue.sites), "data": str(data_dir)},
    )


def _unfit(message: str, problems: list[FieldProblem]) -> ApiError:
    # Several fields at once, so not `invalid` (one field): the same 422 with each problem.
    return ApiError(422, "validation_failed", message, problems)


def _problems_for(catalogue: Catalogue, service: ServiceType) -> list[FieldProblem]:
    others = [s for s in catalogue.services if s.code != service.code]
    issues = cross_check(catalogue.agencies, [*others, service], catalogue.sites, [])
    return [FieldProblem(field=i.field, reason=i.message) for i in issues if i.key == service.code]


async def _save_if_it_fits(conn: asyncpg.Connection, service: ServiceType) -> None:
    """Save and publish the service, or refuse with 422 if it does not fit the rest of the catalogue."""
    catalogue = await repository.current(conn)
    if problems := _problems_for(catalogue, service):
        raise _unfit("the service does not fit the catalogue", problems)
    await repository.save_service(conn, catalogue, service)


async def create_service(pool: asyncpg.Pool, service: ServiceType) -> ServiceType:
    async with pool.acquire() as conn, conn.transaction():
        if await repository.service_row(conn, service.code, lock=True) is not None:
            raise conflict(
                "already_exists",
                "a service with this code exists (update or reinstate it)",
                field="code",
                reason="already used",
            )
        created = service.model_copy(update={"version": 1})
        await _save_if_it_fits(conn, created)
    return created


async def update_service(
    pool: asyncpg.Pool, code: str, service: ServiceType, if_match: int | None
) -> ServiceType:
    if service.code != code:
        raise invalid("code", f"must be {code}", "the code in the body differs from the one in the path")
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.service_row(conn, code, lock=True)
        if row is None:
            raise not_found("no such service", field="code", reason="unknown")
        expected = if_match if if_match is not None else service.version
        if expected != row["version"]:
            raise stale(row["version"])
        updated = service.model_copy(update={"version": row["version"] + 1})
        await _save_if_it_fits(conn, updated)
    return updated


async def retire_service(pool: asyncpg.Pool, code: str, if_match: int | None) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.service_row(conn, code, lock=True)
        if row is None or row["retired_at"] is not None:
            raise not_found("no such service", field="code", reason="unknown")
        if if_match is None:
            raise precondition_required("send If-Match with the version you are retiring")
        if if_match != row["version"]:
            raise stale(row["version"])
        await repository.retire_service(conn, code)


async def put_site(pool: asyncpg.Pool, slug: str, site: Site, if_match: int | None) -> int:
    """Create a site (no If-Match) or replace one (If-Match: its version); services whose availability changes
    with it are republished too. Returns the site's new version."""
    if site.slug != slug:
        raise invalid("slug", f"must be {slug}", "the slug in the body differs from the one in the path")
    async with pool.acquire() as conn, conn.transaction():
        await repository.lock_sites(conn)
        stored = await repository.site_version(conn, slug, lock=True)
        if stored is not None and if_match is None:
            raise precondition_required("send If-Match with the version of the site you changed")
        if stored is not None and if_match != stored:
            raise stale(stored)
        if stored is None and if_match is not None:
            raise not_found("no such site to replace", field="slug", reason="unknown")
        version = 1 if stored is None else stored + 1
        before = await repository.current(conn)
        after = before.model_copy(update={"sites": [s for s in before.sites if s.slug != slug] + [site]})
        issues = cross_check(after.agencies, after.services, after.sites, after.schedules)
        if issues:
            raise _unfit(
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
