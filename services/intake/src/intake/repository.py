"""Intake's database access: applications and their history, queue tickets and idempotency keys."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

# What a list (queue, arrivals, search) shows of an application.
_SUMMARY = (
    "SELECT id, tracking_code, queue_ticket, status, service_code, service_name, agency_code, channel, "
    "applicant_name, origin_site_id, (appointment->>'starts_at')::timestamptz AS appointment_starts_at "
    "FROM application "
)


async def next_ticket_number(conn: asyncpg.Connection, site_id: str, day: date, prefix: str) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO queue_ticket_counter(site_id, day, prefix, last_number) VALUES ($1, $2, $3, 1) "
            "ON CONFLICT (site_id, day, prefix) DO UPDATE SET last_number = queue_ticket_counter.last_number + 1 "
            "RETURNING last_number",
            site_id,
            day,
            prefix,
        )
    )


async def insert_application(conn: asyncpg.Connection, **row: Any) -> bool:
    """False when an application with this id exists already (a forwarded case seen before)."""
    columns = ", ".join(row)
    params = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    inserted = await conn.fetchval(
        f"INSERT INTO application({columns}) VALUES ({params}) ON CONFLICT (id) DO NOTHING RETURNING true",
        *row.values(),
    )
    return bool(inserted)


async def add_history(
    conn: asyncpg.Connection,
    application_id: UUID,
    status: str,
    previous_status: str | None,
    note: str | None,
    changed_by: str,
) -> None:
    await conn.execute(
        "INSERT INTO application_history(application_id, status, previous_status, note, operator) "
        "VALUES ($1, $2, $3, $4, $5)",
        application_id,
        status,
        previous_status,
        note,
        changed_by,
    )


async def history(conn: asyncpg.Connection, application_id: UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT status, previous_status, note, operator AS changed_by, changed_at FROM application_history "
            "WHERE application_id = $1 ORDER BY id",
            application_id,
        )
    )


async def application(
    conn: asyncpg.Connection, site_id: str, application_id: UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM application WHERE id = $1 AND site_id = $2" + (" FOR UPDATE" if lock else ""),
        application_id,
        site_id,
    )


async def find_by_tracking_code(conn: asyncpg.Connection, site_id: str, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM application WHERE tracking_code = $1 AND site_id = $2", code, site_id
    )


async def set_status(conn: asyncpg.Connection, application_id: UUID, status: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "UPDATE application SET status = $2, updated_at = now() WHERE id = $1 RETURNING *",
        application_id,
        status,
    )
    assert row is not None
    return row


async def set_ticket(
    conn: asyncpg.Connection, application_id: UUID, ticket: str, day: date
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "UPDATE application SET queue_ticket = $2, ticket_day = $3, ticketed_at = now(), updated_at = now() "
        "WHERE id = $1 RETURNING *",
        application_id,
        ticket,
        day,
    )
    assert row is not None
    return row


async def set_appointment(
    conn: asyncpg.Connection, application_id: UUID, appointment: dict[str, Any], day: date | None
) -> None:
    await conn.execute(
        "UPDATE application SET appointment = $2::jsonb, appointment_day = $3, updated_at = now() WHERE id = $1",
        application_id,
        json.dumps(appointment),
        day,
    )


async def queue(
    conn: asyncpg.Connection,
    site_id: str,
    day: date,
    *,
    status: str | None,
    agency_code: str | None,
    channel: str | None,
) -> list[asyncpg.Record]:
    """The day's queue in the order the tickets were given."""
    return list(
        await conn.fetch(
            _SUMMARY + "WHERE site_id = $1 AND ticket_day = $2 AND ($3::text IS NULL OR status = $3) "
            "AND ($4::text IS NULL OR agency_code = $4) AND ($5::text IS NULL OR channel = $5) "
            "ORDER BY ticketed_at, queue_ticket",
            site_id,
            day,
            status,
            agency_code,
            channel,
        )
    )


async def arrivals(
    conn: asyncpg.Connection, site_id: str, day: date, *, agency_code: str | None, status: str | None
) -> list[asyncpg.Record]:
    """Applicants expected on a day (forwarded from other sites), in appointment order."""
    return list(
        await conn.fetch(
            _SUMMARY + "WHERE site_id = $1 AND appointment_day = $2 AND origin_site_id IS NOT NULL "
            "AND ($3::text IS NULL OR agency_code = $3) AND ($4::text IS NULL OR status = $4) "
            "ORDER BY (appointment->>'starts_at')::timestamptz, tracking_code",
            site_id,
            day,
            agency_code,
            status,
        )
    )


async def search(
    conn: asyncpg.Connection, site_id: str, text: str, today: date, limit: int
) -> list[asyncpg.Record]:
    """By tracking code, by today's ticket, or by a part of the name; newest first."""
    return list(
        await conn.fetch(
            _SUMMARY + "WHERE site_id = $1 AND (tracking_code = upper($2) "
            "OR (ticket_day = $3 AND queue_ticket = upper($2)) "
            "OR applicant_name ILIKE '%' || $5 || '%') "
            "ORDER BY submitted_at DESC LIMIT $4",
            site_id,
            text,
            today,
            limit,
            _like_escaped(text),
        )
    )


async def lock_idempotency_key(conn: asyncpg.Connection, site_id: str, key: str) -> None:
    """Serialise concurrent retries of the same key until the transaction ends: the second waits, then replays."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2))", site_id, key)


async def stored_answer(
    conn: asyncpg.Connection, site_id: str, key: str, ttl_hours: int
) -> asyncpg.Record | None:
    """The first answer given for this key, unless it has expired (an expired key is forgotten here)."""
    await conn.execute(
        "DELETE FROM idempotency_key WHERE site_id = $1 AND key = $2"
        " AND created_at < now() - make_interval(hours => $3)",
        site_id,
        key,
        ttl_hours,
    )
    return await conn.fetchrow(
        "SELECT request_hash, status_code, response FROM idempotency_key WHERE site_id = $1 AND key = $2",
        site_id,
        key,
    )


async def store_answer(
    conn: asyncpg.Connection,
    site_id: str,
    key: str,
    request_hash: str,
    status_code: int,
    response: dict[str, Any],
) -> None:
    await conn.execute(
        "INSERT INTO idempotency_key(site_id, key, request_hash, status_code, response) "
        "VALUES ($1, $2, $3, $4, $5::jsonb)",
        site_id,
        key,
        request_hash,
        status_code,
        json.dumps(response),
    )


def _like_escaped(text: str) -> str:
    """`text` matched literally inside ILIKE (its own % and _ are not wildcards)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
