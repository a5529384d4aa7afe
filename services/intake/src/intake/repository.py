"""Intake's database access: applications, queue tickets and idempotency keys."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg


async def next_queue_number(conn: asyncpg.Connection, site_id: str, day: date) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO queue_counter(site_id, day, last_number) VALUES ($1, $2, 1) "
            "ON CONFLICT (site_id, day) DO UPDATE SET last_number = queue_counter.last_number + 1 "
            "RETURNING last_number",
            site_id,
            day,
        )
    )


async def insert_application(conn: asyncpg.Connection, **row: Any) -> None:
    columns = ", ".join(row)
    params = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    await conn.execute(f"INSERT INTO application({columns}) VALUES ({params})", *row.values())


async def find_by_tracking_code(conn: asyncpg.Connection, site_id: str, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT tracking_code, site_id, service_code, status, phone_last4, updated_at "
        "FROM application WHERE tracking_code = $1 AND site_id = $2",
        code,
        site_id,
    )


async def application(
    conn: asyncpg.Connection, site_id: str, application_id: UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM application WHERE id = $1 AND site_id = $2" + (" FOR UPDATE" if lock else ""),
        application_id,
        site_id,
    )


async def set_status(
    conn: asyncpg.Connection, application_id: UUID, status: str, note: str | None, operator: str
) -> asyncpg.Record:
    await conn.execute(
        "INSERT INTO application_history(application_id, status, note, operator) VALUES ($1, $2, $3, $4)",
        application_id,
        status,
        note,
        operator,
    )
    row = await conn.fetchrow(
        "UPDATE application SET status = $2, updated_at = now() WHERE id = $1 RETURNING *",
        application_id,
        status,
    )
    assert row is not None
    return row


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
