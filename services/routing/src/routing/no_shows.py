"""The no-show sweep, run every NO_SHOW_INTERVAL_S by the runtime (`ServiceRuntime.every`)."""

from __future__ import annotations

import logging

from routing import operations
from routing.context import RoutingContext

log = logging.getLogger(__name__)


async def sweep(ctx: RoutingContext) -> None:
    if missed := await operations.sweep_no_shows(ctx):
        log.info("no-shows recorded", extra={"count": missed})
