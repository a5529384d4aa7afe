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
    " attempts, next_attempt_at, last_error, phone_e164, purged_at, created_at, updated_at"
)


async def message_for_ops(conn: asyncpg.Connection, message_id: UUID) -> asyncpg.Record | None:
    """One message for the ops API (the body is never read)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_OPS_COLUMNS} FROM sms_message WHERE id = $1",
        message_id,
    )
    return row


async def messages_of_application(
    conn: asyncpg.Connection, application_id: UUID, limit: int
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            f"SELECT {_OPS_COLUMNS} FROM sms_message"
            " WHERE application_id = $1 ORDER BY created_at, id LIMIT $2",
            application_id,
            limit,
        )
    )


async def message_id_by_provider_id(conn: asyncpg.Connection, provider_message_id: str) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        "SELECT id FROM sms_message WHERE provider_message_id = $1 ORDER BY created_at DESC LIMIT 1",
        provider_message_id,
    )
    return found


# ------------------------------------------------------------------ sending


async def claim_due(
    conn: asyncpg.Connection, limit: int, *, urgent_only: bool, urgent: Collection[str]
) -> list[asyncpg.Record]:
    """Lock up to ``limit`` due `created` messages (only ``urgent`` templates when ``urgent_only``) and count
    the claim as an attempt. Call inside a transaction."""
    return list(
        await conn.fetch(
            "UPDATE sms_message SET attempts = attempts + 1"
            " WHERE id IN ("
            "  SELECT id FROM sms_message"
            "  WHERE status = 'created' AND next_attempt_at <= now()"
            "  AND (NOT $2::boolean OR template = ANY($3::text[]))"
            "  ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED"
            ") RETURNING id, template, phone_e164, body, attempts, traceparent",
            limit,
            urgent_only,
            list(urgent),
        )
    )


async def set_sending_provider(conn: asyncpg.Connection, message_id: UUID, provider: str) -> None:
    await conn.execute(
        "UPDATE sms_message SET provider = $2, updated_at = now() WHERE id = $1 AND status = 'sending'",
        message_id,
        provider,
    )


async def record_provider(
    conn: asyncpg.Connection, message_id: UUID, provider: str, provider_message_id: str | None
) -> None:
    """Keep who took the message and its id there (the status stays, a report is expected)."""
    await conn.execute(
        "UPDATE sms_message SET provider = $2, provider_message_id = coalesce($3, provider_message_id),"
        " updated_at = now() WHERE id = $1",
        message_id,
        provider,
        provider_message_id,
    )


async def back_to_created(conn: asyncpg.Connection, message_id: UUID, error: str, due: datetime) -> None:
    """A `sending` message no provider took goes back to `created`, due at ``due``."""
    await conn.execute(
        "UPDATE sms_message SET status = 'created', last_error = $2, next_attempt_at = $3,"
        " updated_at = now() WHERE id = $1 AND status = 'sending'",
        message_id,
        error,
        due,
    )


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
