"""Sweeps for messages that would otherwise wait for ever (run periodically by the dispatcher).

- ``created`` overdue by more than ``stuck_after_s`` (the dispatcher polls due messages, so this only happens
  when it was stopped or starved): re-armed, due now (or at the end of quiet hours). ``created`` older than
  ``created_max_age_s`` (7 days, as GOV.UK Notify stops replaying them): ``technical_failure``, because a
  "your application was received" SMS a week late misleads more than it helps.
- ``sending``/``sent`` without any change for ``stale_after_s`` (72 hours: providers stop reporting after 48 to
  72 hours, research/notify.md): ``temporary_failure``. Such a message is never sent again automatically: the
  provider may have it (at most once per id).

Every change goes through ``messages.set_status`` (final states are kept, the change is published).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from notify import messages
from notify.quiet_hours import QuietHours

__all__ = ["SweepPolicy", "expire_stale", "requeue_created", "run_sweeps"]

log = logging.getLogger(__name__)

_BATCH = 500


@dataclass(frozen=True)
class SweepPolicy:
    stuck_after_s: float = 3600.0
    created_max_age_s: float = 7 * 86400.0
    stale_after_s: float = 72 * 3600.0
    stale_statuses: tuple[str, ...] = ("sending", "sent")


async def requeue_created(
    conn: asyncpg.Connection, policy: SweepPolicy, quiet: QuietHours, now: datetime | None = None
) -> tuple[int, int]:
    """(re-armed, expired) counts."""
    expired = 0
    while True:
        async with conn.transaction():
            ids = await conn.fetch(
                "SELECT id FROM sms_message WHERE status = 'created'"
                " AND created_at < now() - make_interval(secs => $1)"
                " ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                policy.created_max_age_s,
                _BATCH,
            )
            for row in ids:
                if await messages.set_status(
                    conn, row["id"], "technical_failure", error="expired: not sent within the maximum age"
                ):
                    expired += 1
        if len(ids) < _BATCH:
            break
    quiet_end = quiet.quiet_until(now or datetime.now(UTC))
    rearmed = await conn.fetchval(
        "WITH due AS (UPDATE sms_message SET next_attempt_at = CASE WHEN template = ANY($2::text[]) THEN now()"
        " ELSE greatest(now(), $3::timestamptz) END, updated_at = now()"
        " WHERE status = 'created' AND next_attempt_at < now() - make_interval(secs => $1) RETURNING 1)"
        " SELECT count(*) FROM due",
        policy.stuck_after_s,
        list(quiet.urgent),
        quiet_end,
    )
    return int(rearmed), expired


async def expire_stale(conn: asyncpg.Connection, policy: SweepPolicy) -> int:
    """``sending``/``sent`` messages with no news for ``stale_after_s`` become ``temporary_failure``."""
    if not policy.stale_statuses:
        return 0
    hours = round(policy.stale_after_s / 3600, 1)
    done = 0
    while True:
        async with conn.transaction():
            ids = await conn.fetch(
                "SELECT id FROM sms_message WHERE status = ANY($1::text[])"
                " AND updated_at < now() - make_interval(secs => $2)"
                " ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED",
                list(policy.stale_statuses),
                policy.stale_after_s,
                _BATCH,
            )
            for row in ids:
                if await messages.set_status(
                    conn, row["id"], "temporary_failure", error=f"no delivery report within {hours:g} h"
                ):
                    done += 1
        if len(ids) < _BATCH:
            return done


async def run_sweeps(pool: asyncpg.Pool, policy: SweepPolicy, quiet: QuietHours) -> dict[str, int]:
    async with pool.acquire() as conn:
        rearmed, expired = await requeue_created(conn, policy, quiet)
        stale = await expire_stale(conn, policy)
    counts = {"requeued": rearmed, "expired_created": expired, "stale": stale}
    if any(counts.values()):
        log.info("SMS sweeps changed messages", extra=counts)
    return counts
