"""Intake for one site: `uvicorn intake.main:app` with SITE_ID set."""

from __future__ import annotations

from pathlib import Path

from intake.api import build_app
from intake.settings import IntakeSettings
from mpp_contracts.catalog import ServiceTypeChanged, SiteChanged
from mpp_contracts.topics import CATALOG_SERVICE, CATALOG_SITE, INTAKE_APPLICATION
from mpp_kit.readmodel import ReadModel
from mpp_kit.runtime import ServiceRuntime

settings = IntakeSettings()  # SITE_ID comes from the environment
runtime = ServiceRuntime(
    settings,
    migrations=Path(__file__).parent / "migrations",
    topics=[INTAKE_APPLICATION, CATALOG_SERVICE, CATALOG_SITE],
    resource={"site.id": settings.site_id},
)
catalogue = ReadModel(
    CATALOG_SERVICE.name, ServiceTypeChanged, lambda e: e.service, settings.kafka_bootstrap_servers
)
sites = ReadModel(CATALOG_SITE.name, SiteChanged, lambda e: e.site, settings.kafka_bootstrap_servers)
for model in (catalogue, sites):
    runtime.on_start(model.start)
    runtime.on_stop(model.stop)
runtime.readiness_check("catalogue_loaded", lambda: catalogue.loaded.is_set() and sites.loaded.is_set())
runtime.readiness_check("site_in_catalogue", lambda: sites.get(settings.site_id) is not None)

app = build_app(runtime, settings, catalogue, sites)
