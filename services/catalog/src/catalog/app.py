"""Catalog: `uvicorn --factory catalog.app:create_app`. Seeds an empty catalogue from its data set, then serves
and publishes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from catalog import api, operations
from catalog.context import CatalogContext
from catalog.settings import CatalogSettings
from catalog.snapshot import Snapshot
from mpp_contracts.topics import CATALOG_SERVICE, CATALOG_SITE
from mpp_kit.http import create_app as create_http_app
from mpp_kit.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    """The catalog service, from `settings` (the environment when None)."""
    settings = settings or CatalogSettings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS, topics=[CATALOG_SERVICE, CATALOG_SITE])
    ctx = CatalogContext(settings=settings, runtime=runtime, snapshot=Snapshot())

    @runtime.on_start
    async def seed_and_load() -> None:
        await operations.seed_if_empty(runtime.pool, settings.catalogue_data_dir)
        await ctx.snapshot.start(runtime.pool, settings.snapshot_refresh_s)

    runtime.on_stop(ctx.snapshot.stop)
    runtime.readiness_check("catalogue_loaded", lambda: ctx.snapshot.loaded)

    app = create_http_app(
        "Mini MPP catalog",
        lifespan=runtime.lifespan(),
        readiness=runtime.readiness,
        settings=settings,
    )
    app.state.context = ctx
    app.include_router(api.public)
    app.include_router(api.admin)
    return app
