"""Sweeps (stuck `created`, stale `sending`/`sent`) and the retention purge, on the real database, called
directly and run periodically by the dispatcher."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from notify import retention, sweeps
from notify.dispatch import Housekeeping
from notify.quiet_hours import QuietHours

POLICY = sweeps.SweepPolicy(stuck_after_s=3600, created_max_age_s=7 * 86400, stale_after_s=72 * 3600)


async def with_status(stack: Any, status: str, *, age: timedelta, suffix: str = "0001") -> UUID:
    """A message in ``status`` whose last change (and creation) was ``age`` ago; a `sending` one was called
    then (the provider may have it)."""
    return await stack.new_message(
        stack.number(suffix),
        then="UPDATE sms_message SET status = $2, created_at = now() - $3::interval,"
        " updated_at = now() - $3::interval, next_attempt_at = now() - $3::interval,"
        " call_started_at = CASE WHEN $2 = 'sending' THEN now() - $3::interval END WHERE id = $1",
        then_args=(status, age),
    )


async def test_sending_and_sent_beyond_72_hours_become_temporary_failure(stack: Any) -> None:
    stale_sending = await with_status(stack, "sending", age=timedelta(hours=73))
    stale_sent = await with_status(stack, "sent", age=timedelta(hours=73))
    fresh = await with_status(stack, "sending", age=timedelta(hours=71))
    delivered = await with_status(stack, "delivered", age=timedelta(days=5))
    async with stack.pool.acquire() as conn:
        assert await sweeps.expire_stale(conn, POLICY) == 2
        assert await sweeps.expire_stale(conn, POLICY) == 0  # idempotent
    for message_id in (stale_sending, stale_sent):
        row = await stack.row(message_id)
        assert (row["status"], row["last_error"]) == ("temporary_failure", "no delivery report within 72 h")
        assert (await stack.published(message_id))[-1] == "temporary_failure"
    assert await stack.status(fresh) == "sending"
    assert await stack.status(delivered) == "delivered"


async def test_stale_statuses_are_configurable(stack: Any) -> None:
    stale_sent = await with_status(stack, "sent", age=timedelta(hours=100))
    async with stack.pool.acquire() as conn:
        assert await sweeps.expire_stale(conn, sweeps.SweepPolicy(stale_statuses=("sending",))) == 0
    assert await stack.status(stale_sent) == "sent"


async def test_overdue_created_is_requeued_and_too_old_created_expires(stack: Any) -> None:
    overdue = await with_status(stack, "created", age=timedelta(hours=2))
    due = await with_status(stack, "created", age=timedelta(minutes=5))
    too_old = await with_status(stack, "created", age=timedelta(days=8))
    async with stack.pool.acquire() as conn:
        assert await sweeps.requeue_created(conn, POLICY, QuietHours.off()) == (1, 1)
    row = await stack.row(overdue)
    assert row["status"] == "created"
    assert abs((row["next_attempt_at"] - datetime.now(UTC)).total_seconds()) < 5
    assert (await stack.row(due))["next_attempt_at"] < datetime.now(UTC) - timedelta(minutes=4)  # untouched
    expired = await stack.row(too_old)
    assert expired["status"] == "technical_failure" and expired["last_error"].startswith("expired")


async def test_requeue_respects_quiet_hours(stack: Any) -> None:
    overdue = await with_status(stack, "created", age=timedelta(hours=2))
    now = datetime.now(UTC).astimezone(QuietHours().zone)
    window = (
        (now - timedelta(hours=1)).time(),
        (now + timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )
    quiet = QuietHours.of(window)
    async with stack.pool.acquire() as conn:
        await sweeps.requeue_created(conn, POLICY, quiet)
    assert (await stack.row(overdue))["next_attempt_at"] == quiet.quiet_until(datetime.now(UTC))


async def test_retention_purges_phone_and_body_of_old_messages_only(stack: Any) -> None:
    old_delivered = await with_status(stack, "delivered", age=timedelta(days=8))
    old_failed = await with_status(stack, "permanent_failure", age=timedelta(days=30))
    old_sending = await with_status(stack, "sending", age=timedelta(days=8))  # never resent: nothing to keep
    old_created = await with_status(stack, "created", age=timedelta(days=8))  # still to send: kept
    recent = await with_status(stack, "delivered", age=timedelta(days=6))
    await stack.pool.execute(
        "INSERT INTO sms_unmatched_report(provider_message_id, status, received_at)"
        " VALUES ('old', 'delivered', now() - interval '8 days'), ('new', 'delivered', now())"
    )
    assert await retention.purge(stack.pool, older_than_days=7) == 3
    assert await retention.purge(stack.pool, older_than_days=7) == 0
    for message_id in (old_delivered, old_failed, old_sending):
        row = await stack.row(message_id)
        assert row["phone_e164"] is None and row["body"] is None and row["purged_at"] is not None
        assert row["status"] and row["template"] and row["segments"] == 1  # what ops and statistics need
    for message_id in (old_created, recent):
        row = await stack.row(message_id)
        assert row["phone_e164"] and row["body"] and row["purged_at"] is None
    assert [
        r["provider_message_id"] for r in await stack.pool.fetch("SELECT * FROM sms_unmatched_report")
    ] == ["new"]


async def test_the_dispatcher_runs_sweeps_and_the_purge_periodically(stack: Any) -> None:
    stale = await with_status(stack, "sending", age=timedelta(hours=80))
    old = await with_status(stack, "delivered", age=timedelta(days=3))
    dispatcher = stack.dispatcher(
        housekeeping=Housekeeping(
            sweep_interval_s=0.1, sweeps=POLICY, retention_days=2, retention_interval_s=0.1
        )
    )
    await dispatcher.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if await stack.status(stale) == "temporary_failure" and (await stack.row(old))["body"] is None:
                break
            await asyncio.sleep(0.05)
        # the periodic pass keeps running: a message going stale now is swept by a later pass
        later = await with_status(stack, "sent", age=timedelta(hours=90))
        for _ in range(100):
            if await stack.status(later) == "temporary_failure":
                break
            await asyncio.sleep(0.05)
    finally:
        await dispatcher.stop()
    assert await stack.status(stale) == "temporary_failure"
    assert (await stack.row(old))["phone_e164"] is None
    assert await stack.status(later) == "temporary_failure"
