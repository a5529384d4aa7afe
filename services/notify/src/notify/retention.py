"""Retention (UU 27/2022 PDP): phone numbers and SMS bodies are purged after a configurable number of days.

The purge nulls ``phone_e164`` and ``body`` of every message older than the retention period that will not be
sent again (any status but ``created``; a ``sending``/``sent`` message is never re-sent automatically, so it
needs neither) and stamps ``purged_at``. Status, template, segments and timestamps stay for statistics and the
ops API. Delivery reports we could not match are dropped after the same period. Run periodically by the
dispatcher (``SMS_RETENTION_DAYS``, ``SMS_RETENTION_INTERVAL_S``).
"""

from __future__ import annotations

import logging

import asyncpg

from notify import repository

__all__ = ["purge"]

log = logging.getLogger(__name__)


async def purge(pool: asyncpg.Pool | asyncpg.Connection, *, older_than_days: float) -> int:
    """Purge personal data older than ``older_than_days``; returns how many messages were purged."""
    seconds = older_than_days * 86400.0
    purged = await repository.purge_personal_data(pool, seconds)
    await repository.drop_unmatched_reports(pool, seconds)
    if purged:
        log.info("SMS personal data purged", extra={"messages": int(purged), "days": older_than_days})
    return purged
