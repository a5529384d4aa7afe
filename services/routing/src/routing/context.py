"""What routing's handlers, background task and routes work with: settings, the local copy of the catalogue, the
calendar, the clock and (once started) the database pool."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from mpp_contracts.catalog import ServiceAvailability, ServiceTypeChanged, SiteChanged, SiteState
from mpp_kit.readmodel import ReadModel
from routing.domain import DaysOff
from routing.settings import RoutingSettings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RoutingContext:
    settings: RoutingSettings
    services: ReadModel[ServiceTypeChanged, ServiceAvailability]  # by service code
    sites: ReadModel[SiteChanged, SiteState]  # by slug
    days_off: DaysOff
    clock: Callable[[], datetime] = utc_now  # tests set the day
    pool: asyncpg.Pool | None = field(default=None)  # set when the runtime has started

    def database(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("routing has not started")
        return self.pool
