"""Sweeps for messages that would otherwise wait for ever (run periodically by the dispatcher).

- ``created`` overdue by more than ``stuck_after_s`` (the dispatcher polls due messages, so this only happens
  when it was stopped or starved): re-armed, due now (or at the end of quiet hours). ``created`` older than
  ``created_max_age_s`` (7 days, as GOV.UK Notify stops replaying them): ``technical_failure``, because a
  "your application was received" SMS a week late misleads more than it helps.
- ``sending`` claimed with no provider call in flight (its process stopped between one provider's refusal and
  the next provider's call) for ``uncalled_after_s``: due again. The dispatcher does it for all of them when it
  starts; this sweep is for a replica that does not come back.
- ``sending``/``sent`` without any change for ``stale_after_s`` (72 hours: providers stop reporting after 48 to
  72 hours): ``temporary_failure``. Such a message is never sent again automatically: the
  provider may have it (at most once per id).

Every change goes through ``messages.set_status`` (final states are kept, the change is published).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from notify import messages, repository
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
    uncalled_after_s: float = 60.0


async def requeue_created(
    conn: asyncpg.Connection, policy: SweepPolicy, quiet: QuietHours, now: datetime | None = None
) -> tuple[int, int]:
    """(re-armed, expired) counts."""
    expired = 0
    while True:
        async with conn.transaction():
            ids = await repository.lock_created_older_than(conn, policy.created_max_age_s, _BATCH)
            for message_id in ids:
                if await messages.set_status(
                    conn, message_id, "technical_failure", error="expired: not sent within the maximum age"
                ):
                    expired += 1
        if len(ids) < _BATCH:
            break
    quiet_end = quiet.quiet_until(now or datetime.now(UTC))
    rearmed = await repository.rearm_overdue(conn, policy.stuck_after_s, list(quiet.urgent), quiet_end)
    return rearmed, expired


async def expire_stale(conn: asyncpg.Connection, policy: SweepPolicy) -> int:
    """``sending``/``sent`` messages with no news for ``stale_after_s`` become ``temporary_failure``."""
    if not policy.stale_statuses:
        return 0
    hours = round(policy.stale_after_s / 3600, 1)
    done = 0
    while True:
        async with conn.transaction():
            ids = await repository.lock_unchanged_since(
                conn, policy.stale_statuses, policy.stale_after_s, _BATCH
            )
            for message_id in ids:
                if await messages.set_status(
                    conn, message_id, "temporary_failure", error=f"no delivery report within {hours:g} h"
                ):
                    done += 1
        if len(ids) < _BATCH:
            return done


async def run_sweeps(pool: asyncpg.Pool, policy: SweepPolicy, quiet: QuietHours) -> dict[str, int]:
    async with pool.acquire() as conn:
        rearmed, expired = await requeue_created(conn, policy, quiet)
        redriven = await repository.redrive_uncalled(conn, policy.uncalled_after_s)
        stale = await expire_stale(conn, policy)
    counts = {"requeued": rearmed, "expired_created": expired, "redriven": redriven, "stale": stale}
    if any(counts.values()):
        log.info("SMS sweeps changed messages", extra=counts)
    return counts
