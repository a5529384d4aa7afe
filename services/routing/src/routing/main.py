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
from mpp_kit.readmodel import ReadModel
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
services = ReadModel(
    CATALOG_SERVICE.name, ServiceTypeChanged, lambda e: e.service, settings.kafka_bootstrap_servers
)
sites = ReadModel(CATALOG_SITE.name, SiteChanged, lambda e: e.site, settings.kafka_bootstrap_servers)
for model in (services, sites):
    runtime.on_start(model.start_and_load)  # decide nothing before the catalogue is complete
    runtime.on_stop(model.stop)
runtime.readiness_check("catalogue_loaded", lambda: services.loaded.is_set() and sites.loaded.is_set())
handlers.register(runtime, settings, services, sites)

app = create_app("Mini MPP routing", lifespan=runtime.lifespan(), readiness=runtime.readiness)
