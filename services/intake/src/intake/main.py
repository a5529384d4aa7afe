"""Intake for one site: `uvicorn intake.main:app` with SITE_ID set."""

from __future__ import annotations

from pathlib import Path

from intake.api import build_app
from intake.settings import IntakeSettings
from mpp_contracts.catalog import ServiceTypeChanged
from mpp_contracts.topics import CATALOG_SERVICE, INTAKE_APPLICATION
from mpp_kit.readmodel import ReadModel
from mpp_kit.runtime import ServiceRuntime

settings = IntakeSettings()  # SITE_ID comes from the environment
runtime = ServiceRuntime(
    settings,
    migrations=Path(__file__).parent / "migrations",
    topics=[INTAKE_APPLICATION, CATALOG_SERVICE],
    resource={"site.id": settings.site_id},
)
catalogue = ReadModel(
    CATALOG_SERVICE.name, ServiceTypeChanged, lambda e: e.service, settings.kafka_bootstrap_servers
)
runtime.on_start(catalogue.start)
runtime.on_stop(catalogue.stop)
runtime.readiness_check("catalogue_loaded", catalogue.loaded.is_set)

app = build_app(runtime, settings, catalogue)
