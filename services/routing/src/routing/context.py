"""What routing's handlers (and, later, its routes) work with: settings and the local copy of the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from mpp_contracts.catalog import ServiceAvailability, ServiceTypeChanged, SiteChanged, SiteState
from mpp_kit.readmodel import ReadModel
from routing.settings import RoutingSettings


@dataclass(frozen=True)
class RoutingContext:
    settings: RoutingSettings
    services: ReadModel[ServiceTypeChanged, ServiceAvailability]  # by service code
    sites: ReadModel[SiteChanged, SiteState]  # by slug
