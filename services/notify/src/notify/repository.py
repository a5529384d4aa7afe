"""All of notify's SQL: functions taking a connection (or a pool, for one-statement work), no rules.

The rules (which status may follow which, when a message is due again, what a sweep does) live in
``messages.py``, ``dispatch.py``, ``reports.py``, ``sweeps.py`` and ``retention.py``; they call these.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TypeAlias
from uuid import UUID

import asyncpg

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool  # a pool runs one statement on any connection

# ------------------------------------------------------------------ messages


async def insert_message(
    conn: asyncpg.Connection,
    *,
    message_id: UUID,
    event_id: UUID,
    template: str,
    template_version: int,
    application_id: UUID | None,
    phone_e164: str | None,
    body: str | None,
    segments: int,
    status: str,
    error: str | None,
    traceparent: str | None,
    not_before: datetime | None,
) -> bool:
    """Store one message; False when this (event, template) already has one (nothing is stored then)."""
    inserted = await conn.fetchval(
        "INSERT INTO sms_message(id, event_id, template, template_version, application_id, phone_e164, body,"
        " segments, status, last_error, traceparent, next_attempt_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, coalesce($12, now()))"
        " ON CONFLICT (event_id, template) DO NOTHING RETURNING true",
        message_id,
        event_id,
        template,
        template_version,
        application_id,
        phone_e164,
        body,
        segments,
        status,
        error,
        traceparent,
        not_before,
    )
    return bool(inserted)


async def move_status(
    conn: asyncpg.Connection,
    message_id: UUID,
    status: str,
    *,
    provider: str | None,
    provider_message_id: str | None,
    error: str | None,
    final: Collection[str],
    order: Collection[str],
) -> asyncpg.Record | None:
    """Set ``status`` unless the message is in one of ``final`` or already past ``status`` in ``order``.
    Returns (application_id, template, segments, provider) when it moved, else None."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "UPDATE sms_message SET status = $2, provider = coalesce($3, provider),"
        " provider_message_id = coalesce($4, provider_message_id), last_error = coalesce($5, last_error),"
        " updated_at = now() WHERE id = $1 AND status <> ALL($6::text[])"
        " AND array_position($7::text[], status) < array_position($7::text[], $2::text)"
        " RETURNING application_id, template, segments, provider",
        message_id,
        status,
        provider,
        provider_message_id,
        error,
        list(final),
        list(order),
    )
    return row


_OPS_COLUMNS = (
    "id, event_id, application_id, template, template_version, status, segments, provider, provider_message_id,"
    " attempts, next_attempt_at, last_error, phone_e164, purged_at, created_at, updated_at, call_started_at,"
    " confirmed_at"
)


async def message_for_ops(conn: asyncpg.Connection, message_id: UUID) -> asyncpg.Record | None:
    """One message for the ops API (the body is never read)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_OPS_COLUMNS} FROM sms_message WHERE id = $1",
        message_id,
    )
    return row


async def messages_for_ops(
    conn: asyncpg.Connection,
    *,
    application_id: UUID | None,
    status: str | None,
    unconfirmed_for_s: float | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Messages matching every filter given, oldest first. ``unconfirmed_for_s``: `sending` messages whose
    provider call started at least that long ago and that nothing confirmed since."""
    return list(
        await conn.fetch(
            f"SELECT {_OPS_COLUMNS} FROM sms_message"
            " WHERE ($1::uuid IS NULL OR application_id = $1) AND ($2::text IS NULL OR status = $2)"
            " AND ($3::float8 IS NULL OR (status = 'sending' AND confirmed_at IS NULL"
            "  AND call_started_at <= now() - make_interval(secs => $3)))"
            " ORDER BY created_at, id LIMIT $4",
            application_id,
            status,
            unconfirmed_for_s,
            limit,
        )
    )


async def lock_provider_message_id(conn: asyncpg.Connection, provider_message_id: str) -> None:
    """Serialise, until commit, the two writers that meet on a provider's id: the send answer recording it and a
    report naming only it. Without this, a report read before the answer committed, kept as unmatched, and
    committed after the answer looked for unmatched reports, would never be applied."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('sms-provider-id/' || $1))", provider_message_id
    )


async def message_id_by_provider_id(conn: asyncpg.Connection, provider_message_id: str) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        "SELECT id FROM sms_message WHERE provider_message_id = $1 ORDER BY created_at DESC LIMIT 1",
        provider_message_id,
    )
    return found


# ------------------------------------------------------------------ sending


_DUE = "status = 'created' AND next_attempt_at <= now() AND (NOT $2::boolean OR template = ANY($3::text[]))"


async def count_due(
    conn: asyncpg.Connection, limit: int, *, urgent_only: bool, urgent: Collection[str]
) -> int:
    """How many messages are due now, counting up to ``limit`` (only ``urgent`` templates when ``urgent_only``)."""
    count = await conn.fetchval(
        f"SELECT count(*) FROM (SELECT 1 FROM sms_message WHERE {_DUE} LIMIT $1) AS due",
        limit,
        urgent_only,
        list(urgent),
    )
    return int(count)


async def claim_due(
    conn: asyncpg.Connection, limit: int, *, urgent_only: bool, urgent: Collection[str]
) -> list[asyncpg.Record]:
    """Lock up to ``limit`` due `created` messages (only ``urgent`` templates when ``urgent_only``), count the
    claim as an attempt and mark that its provider call starts now. Call inside a transaction."""
    return list(
        await conn.fetch(
            "UPDATE sms_message SET attempts = attempts + 1, call_started_at = now(), confirmed_at = NULL"
            f" WHERE id IN (SELECT id FROM sms_message WHERE {_DUE}"
            "  ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED"
            ") RETURNING id, template, phone_e164, body, attempts, traceparent",
            limit,
            urgent_only,
            list(urgent),
        )
    )


async def call_ended_untaken(conn: asyncpg.Connection, message_id: UUID, attempts: int) -> None:
    """The provider certainly did not take the message: no call of claim ``attempts`` is in flight now."""
    await conn.execute(
        "UPDATE sms_message SET call_started_at = NULL, updated_at = now()"
        " WHERE id = $1 AND status = 'sending' AND attempts = $2 AND confirmed_at IS NULL",
        message_id,
        attempts,
    )


async def call_starting(conn: asyncpg.Connection, message_id: UUID, attempts: int, provider: str) -> bool:
    """Mark that claim ``attempts`` calls ``provider`` now, if the message is still that claim's and no call is
    in flight (False: it was sent back to `created` meanwhile, the caller must not call)."""
    started = await conn.fetchval(
        "UPDATE sms_message SET call_started_at = now(), provider = $3, updated_at = now()"
        " WHERE id = $1 AND status = 'sending' AND attempts = $2 AND call_started_at IS NULL RETURNING true",
        message_id,
        attempts,
        provider,
    )
    return bool(started)


async def record_provider(
    conn: asyncpg.Connection, message_id: UUID, provider: str | None, provider_message_id: str | None
) -> None:
    """The provider has the message: keep who took it and its id there (the status stays, a report is
    expected)."""
    await conn.execute(
        "UPDATE sms_message SET provider = coalesce($2, provider),"
        " provider_message_id = coalesce($3, provider_message_id),"
        " confirmed_at = coalesce(confirmed_at, now()), updated_at = now() WHERE id = $1",
        message_id,
        provider,
        provider_message_id,
    )


async def confirm(conn: asyncpg.Connection, message_id: UUID) -> None:
    """The provider has the message (a delivery report names it)."""
    await conn.execute(
        "UPDATE sms_message SET confirmed_at = now() WHERE id = $1 AND confirmed_at IS NULL", message_id
    )


async def back_to_created(
    conn: asyncpg.Connection, message_id: UUID, attempts: int, error: str, due: datetime
) -> bool:
    """A `sending` message no provider took (claim ``attempts``) goes back to `created`, due at ``due``."""
    moved = await conn.fetchval(
        "UPDATE sms_message SET status = 'created', last_error = $3, next_attempt_at = $4,"
        " call_started_at = NULL, updated_at = now()"
        " WHERE id = $1 AND status = 'sending' AND attempts = $2 AND confirmed_at IS NULL RETURNING true",
        message_id,
        attempts,
        error,
        due,
    )
    return bool(moved)


async def redrive_uncalled(conn: asyncpg.Connection, older_than_s: float) -> int:
    """`sending` messages claimed without a provider call in flight (their process stopped between a refusal
    and the next provider's call) for ``older_than_s`` go back to `created`, due now; returns how many."""
    count = await conn.fetchval(
        "WITH back AS (UPDATE sms_message SET status = 'created', next_attempt_at = now(), updated_at = now()"
        " WHERE status = 'sending' AND call_started_at IS NULL AND confirmed_at IS NULL"
        " AND updated_at <= now() - make_interval(secs => $1) RETURNING 1) SELECT count(*) FROM back",
        older_than_s,
    )
    return int(count)


# ------------------------------------------------------------------ unconfirmed provider calls


async def unconfirmed(conn: asyncpg.Connection, older_than_s: float, limit: int) -> list[asyncpg.Record]:
    """`sending` messages whose provider call started more than ``older_than_s`` ago, never confirmed."""
    return list(
        await conn.fetch(
            "SELECT id, template, provider, phone_e164, body, attempts, call_started_at FROM sms_message"
            " WHERE status = 'sending' AND confirmed_at IS NULL"
            " AND call_started_at < now() - make_interval(secs => $1)"
            " ORDER BY call_started_at LIMIT $2",
            older_than_s,
            limit,
        )
    )


async def unconfirmed_summary(db: Db) -> tuple[int, float]:
    """(how many messages are unconfirmed, seconds since the oldest one's call started; 0 when none)."""
    row = await db.fetchrow(
        "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(call_started_at)), 0) AS age"
        " FROM sms_message WHERE status = 'sending' AND confirmed_at IS NULL AND call_started_at IS NOT NULL"
    )
    assert row is not None
    return int(row["n"]), float(row["age"])


async def requeue_unconfirmed(
    conn: asyncpg.Connection,
    message_id: UUID,
    attempts: int,
    call_started_at: datetime,
    error: str,
    due: datetime,
) -> bool:
    """The provider does not have an unconfirmed message: back to `created`, due at ``due``, unless anything
    changed since it was read (a report, another claim)."""
    moved = await conn.fetchval(
        "UPDATE sms_message SET status = 'created', last_error = $4, next_attempt_at = $5,"
        " call_started_at = NULL, updated_at = now()"
        " WHERE id = $1 AND status = 'sending' AND attempts = $2 AND call_started_at = $3"
        " AND confirmed_at IS NULL RETURNING true",
        message_id,
        attempts,
        call_started_at,
        error,
        due,
    )
    return bool(moved)


async def provider_message_known(
    conn: asyncpg.Connection, provider_message_id: str, other_than: UUID
) -> bool:
    """Whether another message already holds ``provider_message_id``."""
    found = await conn.fetchval(
        "SELECT true FROM sms_message WHERE provider_message_id = $1 AND id <> $2 LIMIT 1",
        provider_message_id,
        other_than,
    )
    return bool(found)


# ------------------------------------------------------------------ delivery reports we could not match yet


async def keep_unmatched_report(
    conn: asyncpg.Connection, provider_message_id: str, status: str, error: str | None, order: Collection[str]
) -> None:
    """Keep a report on an unknown provider id; a later status (by ``order``) replaces an earlier one."""
    await conn.execute(
        "INSERT INTO sms_unmatched_report(provider_message_id, status, error_code) VALUES ($1, $2, $3)"
        " ON CONFLICT (provider_message_id) DO UPDATE SET status = EXCLUDED.status,"
        " error_code = EXCLUDED.error_code, received_at = now()"
        " WHERE coalesce(array_position($4::text[], sms_unmatched_report.status), 0)"
        " < coalesce(array_position($4::text[], EXCLUDED.status), 0)",
        provider_message_id,
        status,
        error,
        list(order),
    )


async def take_unmatched_report(conn: asyncpg.Connection, provider_message_id: str) -> asyncpg.Record | None:
    """Remove and return (status, error_code) of the report kept for ``provider_message_id``, if any."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "DELETE FROM sms_unmatched_report WHERE provider_message_id = $1 RETURNING status, error_code",
        provider_message_id,
    )
    return row


# ------------------------------------------------------------------ sweeps


async def lock_created_older_than(conn: asyncpg.Connection, age_s: float, limit: int) -> list[UUID]:
    """Ids of `created` messages stored more than ``age_s`` ago, locked. Call inside a transaction."""
    rows = await conn.fetch(
        "SELECT id FROM sms_message WHERE status = 'created'"
        " AND created_at < now() - make_interval(secs => $1)"
        " ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        age_s,
        limit,
    )
    return [row["id"] for row in rows]


async def rearm_overdue(
    conn: asyncpg.Connection, overdue_s: float, urgent: Collection[str], quiet_until: datetime | None
) -> int:
    """`created` messages overdue by more than ``overdue_s`` become due now (non-urgent ones not before
    ``quiet_until``); returns how many."""
    count = await conn.fetchval(
        "WITH due AS (UPDATE sms_message SET next_attempt_at = CASE WHEN template = ANY($2::text[]) THEN now()"
        " ELSE greatest(now(), $3::timestamptz) END, updated_at = now()"
        " WHERE status = 'created' AND next_attempt_at < now() - make_interval(secs => $1) RETURNING 1)"
        " SELECT count(*) FROM due",
        overdue_s,
        list(urgent),
        quiet_until,
    )
    return int(count)


async def lock_unchanged_since(
    conn: asyncpg.Connection, statuses: Collection[str], age_s: float, limit: int
) -> list[UUID]:
    """Ids of messages in ``statuses`` unchanged for ``age_s``, locked. Call inside a transaction."""
    rows = await conn.fetch(
        "SELECT id FROM sms_message WHERE status = ANY($1::text[])"
        " AND updated_at < now() - make_interval(secs => $2)"
        " ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED",
        list(statuses),
        age_s,
        limit,
    )
    return [row["id"] for row in rows]


# ------------------------------------------------------------------ retention


async def purge_personal_data(db: Db, older_than_s: float) -> int:
    """Null the phone number and body of messages older than ``older_than_s`` that will not be sent again."""
    purged = await db.fetchval(
        "WITH done AS (UPDATE sms_message SET phone_e164 = NULL, body = NULL, purged_at = now()"
        " WHERE status <> 'created' AND created_at < now() - make_interval(secs => $1)"
        " AND (phone_e164 IS NOT NULL OR body IS NOT NULL) RETURNING 1) SELECT count(*) FROM done",
        older_than_s,
    )
    return int(purged)


async def drop_unmatched_reports(db: Db, older_than_s: float) -> None:
    await db.execute(
        "DELETE FROM sms_unmatched_report WHERE received_at < now() - make_interval(secs => $1)", older_than_s
    )


# ------------------------------------------------------------------ the daily cap per phone number


async def lock_phone(conn: asyncpg.Connection, phone_e164: str) -> None:
    """Serialise the cap's count-then-insert per number until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('sms-cap/' || $1))", phone_e164)


async def messages_to_phone_in_a_day(conn: asyncpg.Connection, phone_e164: str) -> int:
    """Messages to this number in the last 24 hours that were (or will be) sent: not declined, capped or unrendered."""
    count = await conn.fetchval(
        "SELECT count(*) FROM sms_message WHERE phone_e164 = $1 AND created_at > now() - interval '1 day'"
        " AND status NOT IN ('declined', 'capped', 'technical_failure')",
        phone_e164,
    )
    return int(count)
