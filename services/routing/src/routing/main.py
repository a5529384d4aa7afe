"""Routing: `uvicorn routing.main:app`."""

from __future__ import annotations

from pathlib import Path

from mpp_contracts.catalog import ServiceTypeChanged, SiteChanged
from mpp_contracts.topics import (
    CATALOG_SERVICE,
    CATALOG_SITE,
    INTAKE_APPLICATION,
    ROUTING_DECISION,
    site_inbox,
)
from mpp_kit.http import create_app
from mpp_kit.runtime import ServiceRuntime
from routing import handlers
from routing.settings import RoutingSettings

settings = RoutingSettings()
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
# Decide nothing before the catalogue is complete.
services = runtime.read_model(CATALOG_SERVICE, ServiceTypeChanged, lambda e: e.service, before_consuming=True)
sites = runtime.read_model(CATALOG_SITE, SiteChanged, lambda e: e.site, before_consuming=True)
handlers.register(runtime, settings, services, sites)

app = create_app("Mini MPP routing", lifespan=runtime.lifespan(), readiness=runtime.readiness)
