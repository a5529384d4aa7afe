"""Retention (UU 27/2022 PDP): the personal fields of closed applications are purged after
PERSONAL_DATA_RETENTION_DAYS, and the rows kept only for a while (idempotency keys, rate-limit windows, tracking
failures) are swept, every RETENTION_INTERVAL_S, by every replica (each pass is one idempotent transaction)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from intake import operations
from intake.settings import IntakeSettings

log = logging.getLogger(__name__)


class Retention:
    def __init__(self, settings: IntakeSettings) -> None:
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self, pool: asyncpg.Pool) -> None:
        self._task = asyncio.create_task(self._run(pool), name="intake-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def once(self, pool: asyncpg.Pool) -> int:
        return await operations.purge_closed(
            pool,
            older_than_days=self.settings.personal_data_retention_days,
            idempotency_ttl_hours=self.settings.idempotency_ttl_hours,
            rate_window_s=self.settings.rate_limit_window_s,
        )

    async def _run(self, pool: asyncpg.Pool) -> None:
        while True:
            try:
                await self.once(pool)
            except Exception:  # a database away now is back at the next pass; the loop must go on
                log.exception("retention pass failed")
            await asyncio.sleep(self.settings.retention_interval_s)
