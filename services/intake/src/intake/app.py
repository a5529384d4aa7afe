"""Intake for one site: `uvicorn --factory intake.app:create_app` with SITE_ID set."""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import FastAPI

from intake import api, handlers
from intake.context import IntakeContext
from intake.retention import Retention
from intake.settings import IntakeSettings
from mpp_contracts.catalog import ServiceTypeChanged, SiteChanged
from mpp_contracts.routing import DecisionEvent, InboxEvent
from mpp_contracts.topics import (
    CATALOG_SERVICE,
    CATALOG_SITE,
    INTAKE_APPLICATION,
    ROUTING_DECISION,
    site_inbox,
)
from mpp_kit import http
from mpp_kit.runtime import ServiceRuntime


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()  # SITE_ID and the secrets come from the environment
    site_id = settings.site_id
    inbox = site_inbox(site_id)
    runtime = ServiceRuntime(
        settings,
        migrations=Path(__file__).parent / "migrations",
        topics=[INTAKE_APPLICATION, CATALOG_SERVICE, CATALOG_SITE, ROUTING_DECISION, inbox],
        resource={"site.id": site_id},
        broker_required_for_readiness=False,  # the outbox keeps accepted applications while the broker is away
    )
    # Events are applied with the catalogue's names, agencies and time zones: both copies load before consuming.
    catalogue = runtime.read_model(
        CATALOG_SERVICE, ServiceTypeChanged, lambda e: e.service, before_consuming=True
    )
    sites = runtime.read_model(CATALOG_SITE, SiteChanged, lambda e: e.site, before_consuming=True)
    runtime.readiness_check("site_in_catalogue", lambda: sites.get(site_id) is not None)
    ctx = IntakeContext(settings, runtime, catalogue, sites)
    # Every site reads the whole decision topic in a consumer group of its own and keeps its own applications
    # (the others' are skipped before any transaction).
    runtime.consume(
        ROUTING_DECISION,
        DecisionEvent,
        name=f"intake-{site_id}-decisions",
        concerns=functools.partial(handlers.is_this_sites, ctx=ctx),
    )(functools.partial(handlers.on_decision, ctx=ctx))
    runtime.consume(inbox, InboxEvent, name=f"intake-{site_id}-inbox")(
        functools.partial(handlers.on_inbox, ctx=ctx)
    )

    retention = Retention(settings)
    runtime.every("intake-retention", settings.retention_interval_s, lambda: retention.once(runtime.pool))

    app = http.create_app(
        f"Mini MPP intake ({site_id})",
        lifespan=runtime.lifespan(),
        readiness=runtime.readiness,
        settings=settings,
    )
    app.state.context = ctx
    app.include_router(api.operators)
    app.include_router(api.router)
    return app
