"""Catalog: `uvicorn catalog.main:app`. Loads its data set at start and publishes what changed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import Query
from mpp_contracts.topics import CATALOG_SERVICE, CATALOG_SITE
from mpp_kit.errors import ApiError, ErrorResponse, FieldProblem
from mpp_kit.http import create_app
from mpp_kit.runtime import ServiceRuntime

from catalog import repository
from catalog.seed import load_catalogue
from catalog.settings import CatalogSettings

log = logging.getLogger(__name__)

settings = CatalogSettings()
runtime = ServiceRuntime(
    settings, migrations=Path(__file__).parent / "migrations", topics=[CATALOG_SERVICE, CATALOG_SITE]
)


@runtime.on_start
async def _load_data_set() -> None:
    catalogue = load_catalogue(settings.catalogue_data_dir)
    async with runtime.pool.acquire() as conn, conn.transaction():
        services, sites = await repository.load(conn, catalogue)
    log.info(
        "catalogue loaded",
        extra={
            "services_changed": services,
            "sites_changed": sites,
            "services": len(catalogue.services),
            "sites": len(catalogue.sites),
        },
    )


app = create_app("Mini MPP catalog", lifespan=runtime.lifespan(), readiness=runtime.readiness)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


@app.get("/sites", tags=["public"])
async def sites() -> list[dict[str, object]]:
    async with runtime.pool.acquire() as conn:
        return await repository.list_sites(conn)


@app.get("/services/{code}", tags=["public"], responses=NOT_FOUND)
async def service(code: str) -> dict[str, object]:
    async with runtime.pool.acquire() as conn:
        found = await repository.get_service(conn, code.upper())
    if found is None:
        raise ApiError(
            404, "not_found", "no such service", [FieldProblem(field="code", reason="unknown code")]
        )
    return found


@app.get("/sites/{site}/services", tags=["public"])
async def services_at(
    site: str,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, object]]:
    async with runtime.pool.acquire() as conn:
        return await repository.services_at(conn, site, limit, offset)
