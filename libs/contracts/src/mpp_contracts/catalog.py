"""Events of the catalog service: the full current state of a service type or a site, keyed by its code.

Published to compacted topics; a tombstone (a null value) under the same key retires it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from mpp_contracts.base import IntegrationEvent

Channel = Literal["local", "assisted", "central_only"]


class ServiceAvailability(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    code: str
    name: str
    agency_code: str
    channel: Channel
    central_only_reason: str | None = None
    completion_days: int
    requirements: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()  # slugs of the sites offering it; central-only services list the central site
    version: int = 1


class ServiceTypeChanged(IntegrationEvent):
    """Full state of a service type after a change (create, update)."""

    service: ServiceAvailability


class SiteState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    slug: str
    name: str
    kind: Literal["central", "mini"]
    kemendagri_code: str
    address: str = ""
    timezone: str = "Asia/Makassar"
    version: int = 1


class SiteChanged(IntegrationEvent):
    site: SiteState
