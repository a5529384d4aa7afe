"""Retention (UU 27/2022 PDP): the personal fields of closed applications are purged after
PERSONAL_DATA_RETENTION_DAYS, and the rows kept only for a while (idempotency keys, rate-limit windows, tracking
failures) are swept, every RETENTION_INTERVAL_S, by every replica (each pass is one idempotent transaction; the
runtime runs it: `ServiceRuntime.every`)."""

from __future__ import annotations

import asyncpg

from intake import operations
from intake.settings import IntakeSettings


class Retention:
    def __init__(self, settings: IntakeSettings) -> None:
        self.settings = settings

    async def once(self, pool: asyncpg.Pool) -> int:
        return await operations.purge_closed(
            pool,
            older_than_days=self.settings.personal_data_retention_days,
            idempotency_ttl_hours=self.settings.idempotency_ttl_hours,
            rate_window_s=self.settings.rate_limit_window_s,
        )
