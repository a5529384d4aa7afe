"""What intake's routes and handlers stand on, built once by `create_app` and kept as `app.state.context`."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from intake.settings import IntakeSettings
from mpp_contracts.catalog import ServiceAvailability, ServiceTypeChanged, SiteChanged, SiteState
from mpp_kit.readmodel import ReadModel
from mpp_kit.runtime import ServiceRuntime


@dataclass(frozen=True)
class IntakeContext:
    settings: IntakeSettings
    runtime: ServiceRuntime
    catalogue: ReadModel[ServiceTypeChanged, ServiceAvailability]  # service types, by code
    sites: ReadModel[SiteChanged, SiteState]  # sites, by slug

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool

    def this_site(self) -> SiteState | None:
        """This deployment's site as the catalogue describes it (names, time zone), once known."""
        return self.sites.get(self.settings.site_id)

    def collected_at(self, service_code: str) -> str:
        """Where the product of a service is collected: at the origin site unless the catalogue says otherwise."""
        service = self.catalogue.get(service_code)
        return service.collected_at if service else "origin"
