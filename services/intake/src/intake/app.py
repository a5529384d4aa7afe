"""Intake for one site: `uvicorn --factory intake.app:create_app` with SITE_ID set."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from intake import api
from intake.context import IntakeContext
from intake.settings import IntakeSettings
from mpp_contracts.catalog import ServiceTypeChanged, SiteChanged
from mpp_contracts.topics import CATALOG_SERVICE, CATALOG_SITE, INTAKE_APPLICATION
from mpp_kit import http
from mpp_kit.runtime import ServiceRuntime


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()  # SITE_ID and the secrets come from the environment
    runtime = ServiceRuntime(
        settings,
        migrations=Path(__file__).parent / "migrations",
        topics=[INTAKE_APPLICATION, CATALOG_SERVICE, CATALOG_SITE],
        resource={"site.id": settings.site_id},
        broker_required_for_readiness=False,  # the outbox keeps accepted applications while the broker is away
    )
    catalogue = runtime.read_model(CATALOG_SERVICE, ServiceTypeChanged, lambda e: e.service)
    sites = runtime.read_model(CATALOG_SITE, SiteChanged, lambda e: e.site)
    site_id = settings.site_id
    runtime.readiness_check("site_in_catalogue", lambda: sites.get(site_id) is not None)

    app = http.create_app(
        f"Mini MPP intake ({settings.site_id})",
        lifespan=runtime.lifespan(),
        readiness=runtime.readiness,
        max_body_bytes=settings.http_max_body_bytes,
    )
    app.state.context = IntakeContext(settings, runtime, catalogue, sites)
    app.include_router(api.router)
    return app
