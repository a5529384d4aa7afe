"""Intake's database access: applications and their history, queue tickets and idempotency keys."""

from __future__ import annotations

import json
from datetime import date, datetime
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


async def waiting_for_pickup(conn: asyncpg.Connection, site_id: str) -> list[asyncpg.Record]:
    """Results ready at the site for their applicants, whatever day they were submitted: the longest waiting first
    (a product can take weeks, a forwarded one longer still)."""
    return list(
        await conn.fetch(
            _SUMMARY
            + "WHERE site_id = $1 AND status = 'ready_for_pickup' ORDER BY updated_at, tracking_code",
            site_id,
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
    """The first answer given for this key, unless it has expired (an expired key is forgotten here). One
    statement: the DELETE and the SELECT see the same snapshot, so the SELECT leaves the expired row out itself."""
    return await conn.fetchrow(
        "WITH expired AS (DELETE FROM idempotency_key WHERE site_id = $1 AND key = $2"
        " AND created_at < now() - make_interval(hours => $3))"
        " SELECT request_hash, status_code, response FROM idempotency_key WHERE site_id = $1 AND key = $2"
        " AND created_at >= now() - make_interval(hours => $3)",
        site_id,
        key,
        ttl_hours,
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


# ---- one-time codes of online applications -----------------------------------------------------------------


async def insert_verification(
    conn: asyncpg.Connection, application_id: UUID, code_hash: str, valid_minutes: int
) -> None:
    await conn.execute(
        "INSERT INTO phone_verification(application_id, code_hash, expires_at) "
        "VALUES ($1, $2, now() + make_interval(mins => $3))",
        application_id,
        code_hash,
        valid_minutes,
    )


async def verification(conn: asyncpg.Connection, site_id: str, application_id: UUID) -> asyncpg.Record | None:
    """The application with its code (hash, expiry, attempts, resends, seconds since it was sent), both locked
    for the attempt."""
    return await conn.fetchrow(
        "SELECT a.*, v.code_hash, v.expires_at <= now() AS expired, v.attempts, v.verified_at, v.resends, "
        "extract(epoch FROM now() - v.sent_at)::float8 AS since_sent_s "
        "FROM application a JOIN phone_verification v ON v.application_id = a.id "
        "WHERE a.id = $1 AND a.site_id = $2 FOR UPDATE",
        application_id,
        site_id,
    )


async def replace_verification_code(
    conn: asyncpg.Connection, application_id: UUID, code_hash: str, valid_minutes: int
) -> None:
    """A new code for the application: the old one's hash goes, with its attempts; one resend more."""
    await conn.execute(
        "UPDATE phone_verification SET code_hash = $2, expires_at = now() + make_interval(mins => $3), "
        "attempts = 0, resends = resends + 1, sent_at = now() WHERE application_id = $1",
        application_id,
        code_hash,
        valid_minutes,
    )


async def record_verification_attempt(conn: asyncpg.Connection, application_id: UUID, *, ok: bool) -> None:
    await conn.execute(
        "UPDATE phone_verification SET attempts = attempts + 1, "
        "verified_at = CASE WHEN $2 THEN now() ELSE verified_at END WHERE application_id = $1",
        application_id,
        ok,
    )


# ---- rate limits and tracking locks -----------------------------------------------------------------------


async def count_hit(conn: asyncpg.Connection | asyncpg.Pool, bucket: str, window_s: int) -> tuple[int, float]:
    """One more hit of `bucket` in the current fixed window: (hits so far, seconds until the window ends)."""
    row = await conn.fetchrow(
        "INSERT INTO rate_limit_window(bucket, window_start, hits) "
        "VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2) * $2), 1) "
        "ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_window.hits + 1 "
        "RETURNING hits, extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8 AS left_s",
        bucket,
        window_s,
    )
    assert row is not None
    return int(row["hits"]), float(row["left_s"])


async def tracking_locked_for(conn: asyncpg.Connection, code_hash: str) -> float | None:
    """Seconds the tracking code stays locked, or None."""
    left = await conn.fetchval(
        "SELECT extract(epoch FROM locked_until - now())::float8 FROM tracking_failure "
        "WHERE code_hash = $1 AND locked_until > now()",
        code_hash,
    )
    return float(left) if left is not None else None


async def tracking_failed(
    conn: asyncpg.Connection, code_hash: str, *, max_failures: int, lock_minutes: int
) -> None:
    """One more wrong answer for a tracking code; the last one allowed locks it. Failures older than a lock
    period are forgotten."""
    await conn.execute(
        "INSERT INTO tracking_failure AS t (code_hash, failures) VALUES ($1, 1) "
        "ON CONFLICT (code_hash) DO UPDATE SET updated_at = now(), failures = CASE "
        "WHEN t.updated_at < now() - make_interval(mins => $2) THEN 1 ELSE t.failures + 1 END",
        code_hash,
        lock_minutes,
    )
    await conn.execute(
        "UPDATE tracking_failure SET locked_until = now() + make_interval(mins => $3), failures = 0 "
        "WHERE code_hash = $1 AND failures >= $2",
        code_hash,
        max_failures,
        lock_minutes,
    )


async def tracking_succeeded(conn: asyncpg.Connection, code_hash: str) -> None:
    await conn.execute(
        "DELETE FROM tracking_failure WHERE code_hash = $1 AND locked_until IS NULL", code_hash
    )


# ---- retention and erasure --------------------------------------------------------------------------------

# What purging an application's personal fields sets: no name, NIK or phone; the checklist keeps the
# requirement names but loses the document references.
_PURGE = (
    "UPDATE application SET applicant_name = '', nik_sealed = NULL, nik_last4 = NULL, phone_sealed = '', "
    "phone_last4 = '', checklist = (SELECT coalesce(jsonb_agg(entry - 'document'), '[]'::jsonb) "
    "FROM jsonb_array_elements(checklist) AS entry), personal_data_purged_at = now() "
)


async def purge_closed(conn: asyncpg.Connection, statuses: list[str], older_than_days: float) -> list[UUID]:
    """Purge the personal fields of applications closed (in `statuses`) for longer than the period."""
    rows = await conn.fetch(
        _PURGE + "WHERE personal_data_purged_at IS NULL AND status = ANY($1::text[]) "
        "AND updated_at < now() - make_interval(secs => $2) RETURNING id",
        statuses,
        older_than_days * 86400.0,
    )
    ids = [row["id"] for row in rows]
    await conn.execute("DELETE FROM phone_verification WHERE application_id = ANY($1::uuid[])", ids)
    return ids


async def erase(conn: asyncpg.Connection, application_id: UUID) -> None:
    await conn.execute(_PURGE + "WHERE id = $1", application_id)
    await conn.execute("DELETE FROM phone_verification WHERE application_id = $1", application_id)


async def sweep(conn: asyncpg.Connection, *, idempotency_ttl_hours: int, rate_window_s: int) -> None:
    """Forget expired idempotency keys, past rate-limit windows and tracking failures no longer relevant."""
    await conn.execute(
        "DELETE FROM idempotency_key WHERE created_at < now() - make_interval(hours => $1)",
        idempotency_ttl_hours,
    )
    await conn.execute(
        "DELETE FROM rate_limit_window WHERE window_start < now() - make_interval(secs => $1)",
        2 * rate_window_s,
    )
    await conn.execute(
        "DELETE FROM tracking_failure WHERE coalesce(locked_until, updated_at) < now() - interval '1 day'"
    )


# ---- the satisfaction survey (SKM) -------------------------------------------------------------------------


async def survey_answered(conn: asyncpg.Connection, application_id: UUID) -> bool:
    return bool(
        await conn.fetchval("SELECT true FROM survey_response WHERE application_id = $1", application_id)
    )


async def insert_survey(
    conn: asyncpg.Connection,
    *,
    application_id: UUID,
    site_id: str,
    service_code: str,
    scores: dict[str, int],
    suggestion: str | None,
) -> datetime | None:
    """When it was recorded; None when the application has a response already (one each)."""
    columns = ", ".join(scores)  # the nine elements' names (domain.SURVEY_KEYS), never input
    params = ", ".join(f"${i}" for i in range(5, len(scores) + 5))
    answered_at: datetime | None = await conn.fetchval(
        f"INSERT INTO survey_response(application_id, site_id, service_code, suggestion, {columns}) "
        f"VALUES ($1, $2, $3, $4, {params}) ON CONFLICT (application_id) DO NOTHING RETURNING answered_at",
        application_id,
        site_id,
        service_code,
        suggestion,
        *scores.values(),
    )
    return answered_at


async def survey_totals(
    conn: asyncpg.Connection, site_id: str, elements: tuple[str, ...], start: datetime, end: datetime
) -> tuple[int, list[int]]:
    """The site's responses answered in [start, end): how many, and the sum of each element's scores."""
    sums = ", ".join(f"coalesce(sum({element}), 0)::bigint" for element in elements)  # names, never input
    row = await conn.fetchrow(
        f"SELECT count(*) AS responses, {sums} FROM survey_response "
        "WHERE site_id = $1 AND answered_at >= $2 AND answered_at < $3",
        site_id,
        start,
        end,
    )
    assert row is not None
    return int(row["responses"]), [int(value) for value in list(row.values())[1:]]
