"""Catalog: `uvicorn catalog.main:app`. Seeds an empty catalogue from its data set, then serves and publishes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from catalog import repository
from catalog.api import add_routes
from catalog.seed import load_catalogue
from catalog.service import Snapshot
from catalog.settings import CatalogSettings
from mpp_contracts.topics import CATALOG_SERVICE, CATALOG_SITE
from mpp_kit.http import create_app
from mpp_kit.runtime import ServiceRuntime

log = logging.getLogger(__name__)

settings = CatalogSettings()
runtime = ServiceRuntime(
    settings, migrations=Path(__file__).parent / "migrations", topics=[CATALOG_SERVICE, CATALOG_SITE]
)
snapshot = Snapshot()
_follower: asyncio.Task[None] | None = None


@runtime.on_start
async def _seed_and_snapshot() -> None:
    global _follower
    async with runtime.pool.acquire() as conn, conn.transaction():
        # One seeding replica: the others wait here, then find the catalogue filled.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('catalog.seed'))")
        if await repository.is_empty(conn):
            catalogue = load_catalogue(settings.catalogue_data_dir)
            await repository.seed(conn, catalogue)
            log.info(
                "catalogue seeded",
                extra={
                    "services": len(catalogue.services),
                    "sites": len(catalogue.sites),
                    "data": str(settings.catalogue_data_dir),
                },
            )
    await snapshot.refresh(runtime.pool)
    _follower = asyncio.create_task(snapshot.follow(runtime.pool, settings.snapshot_refresh_s))


@runtime.on_stop
async def _stop_follower() -> None:
    if _follower is not None:
        _follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _follower


runtime.readiness_check("catalogue_loaded", lambda: snapshot.loaded)
app = create_app("Mini MPP catalog", lifespan=runtime.lifespan(), readiness=runtime.readiness)
add_routes(app, runtime, settings, snapshot)
