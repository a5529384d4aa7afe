"""Intake for one site: `uvicorn intake.main:app` with SITE_ID set."""

from __future__ import annotations

from pathlib import Path

from intake.api import build_app
from intake.settings import IntakeSettings
from mpp_contracts.catalog import ServiceTypeChanged, SiteChanged
from mpp_contracts.topics import CATALOG_SERVICE, CATALOG_SITE, INTAKE_APPLICATION
from mpp_kit.runtime import ServiceRuntime

settings = IntakeSettings()  # SITE_ID comes from the environment
runtime = ServiceRuntime(
    settings,
    migrations=Path(__file__).parent / "migrations",
    topics=[INTAKE_APPLICATION, CATALOG_SERVICE, CATALOG_SITE],
    resource={"site.id": settings.site_id},
)
catalogue = runtime.read_model(CATALOG_SERVICE, ServiceTypeChanged, lambda e: e.service)
sites = runtime.read_model(CATALOG_SITE, SiteChanged, lambda e: e.site)
runtime.readiness_check("site_in_catalogue", lambda: sites.get(settings.site_id) is not None)

app = build_app(runtime, settings, catalogue, sites)
