"""The no-show sweep as a background task: every NO_SHOW_INTERVAL_S, `operations.sweep_no_shows`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from routing import operations
from routing.context import RoutingContext

log = logging.getLogger(__name__)


class NoShowSweep:
    def __init__(self, ctx: RoutingContext) -> None:
        self._ctx = ctx
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="routing-no-show-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while True:
            try:
                if missed := await operations.sweep_no_shows(self._ctx):
                    log.info("no-shows recorded", extra={"count": missed})
            except Exception:  # an outage or a bug: logged, tried again next round
                log.exception("no-show sweep failed")
            await asyncio.sleep(self._ctx.settings.no_show_interval_s)
