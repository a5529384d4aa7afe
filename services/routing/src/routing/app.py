"""Routing: `uvicorn --factory routing.app:create_app` (settings from the environment)."""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import FastAPI

from mpp_contracts.catalog import ServiceTypeChanged, SiteChanged
from mpp_contracts.intake import ApplicationEvent
from mpp_contracts.topics import (
    CATALOG_SERVICE,
    CATALOG_SITE,
    INTAKE_APPLICATION,
    ROUTING_DECISION,
    site_inbox,
)
from mpp_kit import http
from mpp_kit.runtime import ServiceRuntime
from routing import api, domain, handlers, no_shows
from routing.context import RoutingContext
from routing.days_off import load_days_off
from routing.metrics import refresh_free_slots
from routing.settings import RoutingSettings


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    settings = settings or RoutingSettings()
    runtime = ServiceRuntime(
        settings,
        migrations=Path(__file__).parent / "migrations",
        topics=[
            CATALOG_SERVICE,
            CATALOG_SITE,
            INTAKE_APPLICATION,
            ROUTING_DECISION,
            site_inbox(settings.central_site_id),
        ],
    )
    # Decide nothing before the catalogue is loaded: an unknown service would be refused.
    ctx = RoutingContext(
        settings=settings,
        services=runtime.read_model(
            CATALOG_SERVICE, ServiceTypeChanged, lambda e: e.service, before_consuming=True
        ),
        sites=runtime.read_model(CATALOG_SITE, SiteChanged, lambda e: e.site, before_consuming=True),
        days_off=load_days_off(settings.cuti_bersama_file),
    )
    runtime.consume(INTAKE_APPLICATION, ApplicationEvent, name="routing", concerns=domain.concerns_routing)(
        functools.partial(handlers.on_application, ctx=ctx)
    )

    @runtime.on_start
    async def share_pool() -> None:
        ctx.pool = runtime.pool

    sweep = runtime.every(
        "routing-no-show-sweep", settings.no_show_interval_s, functools.partial(no_shows.sweep, ctx)
    )
    runtime.every(
        "routing-free-slots", settings.free_slots_refresh_s, functools.partial(refresh_free_slots, ctx)
    )
    runtime.readiness_check("no-show sweep", lambda: sweep.running)
    app = http.create_app(
        "Mini MPP routing",
        lifespan=runtime.lifespan(),
        readiness=runtime.readiness,
        settings=settings,
    )
    app.include_router(api.router)
    app.state.context = ctx
    return app
