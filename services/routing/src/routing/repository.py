"""All of routing's SQL: decisions, central appointments and their changes, and the ops reads. Every function runs
on the caller's connection, inside the caller's transaction (the inbox transaction of the event being handled, or
the no-show sweep's)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from mpp_contracts.intake import ApplicationSubmitted
from routing.domain import Applicant, Decision, HeldAppointment

ChangeKind = Literal["rescheduled", "no_slot_to_reschedule", "cancelled", "missed"]


# ------------------------------------------------------------------ decisions


async def record_decision(
    conn: asyncpg.Connection,
    event: ApplicationSubmitted,
    decision: Decision,
    service_name: str,
    origin_site_name: str,
) -> None:
    await conn.execute(
        "INSERT INTO routing_decision(application_id, origin_site_id, service_code, outcome, handling_site_id,"
        " reason, decision_reason, tracking_code, service_name, origin_site_name, applicant_first_name,"
        " sealed_phone, sms_consent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        event.application_id,
        event.site_id,
        event.service_code,
        decision.outcome,
        decision.handling_site_id,
        decision.refusal_reason or decision.central_only_reason,
        decision.reason,
        event.tracking_code,
        service_name,
        origin_site_name,
        event.applicant_first_name,
        event.sealed_phone,
        event.sms_consent,
    )


async def is_decided(conn: asyncpg.Connection, application_id: UUID) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM routing_decision WHERE application_id = $1)", application_id
    )
    return found


def _applicant(row: asyncpg.Record) -> Applicant:
    return Applicant(
        application_id=row["application_id"],
        tracking_code=row["tracking_code"],
        origin_site_id=row["origin_site_id"],
        origin_site_name=row["origin_site_name"],
        handling_site_id=row["handling_site_id"],
        service_code=row["service_code"],
        service_name=row["service_name"],
        applicant_first_name=row["applicant_first_name"],
        sealed_phone=row["sealed_phone"],
        sms_consent=row["sms_consent"],
    )


def _held(row: asyncpg.Record) -> HeldAppointment:
    return HeldAppointment(
        application_id=row["application_id"],
        site_id=row["site_id"],
        agency_code=row["agency_code"],
        day=row["day"],
        slot=row["slot"],
        starts_at=row["starts_at"].astimezone(ZoneInfo(row["timezone"])),
        status=row["status"],
        site_name=row["site_name"],
        bring=tuple(row["bring"]),
    )


APPOINTMENT_COLUMNS = (
    "a.application_id, a.site_id, a.agency_code, a.day, a.slot, a.starts_at, a.timezone, a.status, a.site_name,"
    " a.bring"
)
APPLICANT_COLUMNS = (
    "d.tracking_code, d.origin_site_id, d.origin_site_name, d.handling_site_id, d.service_code, d.service_name,"
    " d.applicant_first_name, d.sealed_phone, d.sms_consent"
)


async def forwarded_application(
    conn: asyncpg.Connection, application_id: UUID
) -> tuple[Applicant, HeldAppointment] | None:
    """A forwarded application with its appointment, the appointment row locked for the rest of the transaction
    (changes to one application are serialised); None when routing booked nothing for it."""
    row = await conn.fetchrow(
        f"SELECT {APPOINTMENT_COLUMNS}, {APPLICANT_COLUMNS} FROM appointment a"
        " JOIN routing_decision d USING (application_id) WHERE a.application_id = $1 FOR UPDATE OF a",
        application_id,
    )
    return None if row is None else (_applicant(row), _held(row))


async def appointment_start(conn: asyncpg.Connection, application_id: UUID) -> datetime | None:
    """When the application's appointment starts, if one is booked already."""
    starts: datetime | None = await conn.fetchval(
        "SELECT starts_at FROM appointment WHERE application_id = $1", application_id
    )
    return starts


async def lock_day(conn: asyncpg.Connection, site_id: str, agency_code: str, day: date) -> int:
    """How many seats of the agency's day at the site are held, the day's row locked for the rest of the
    transaction: bookings and releases of one day are serialised, across routing replicas too."""
    await conn.execute(
        "INSERT INTO appointment_day(site_id, agency_code, day, booked) VALUES ($1, $2, $3, 0)"
        " ON CONFLICT (site_id, agency_code, day) DO NOTHING",
        site_id,
        agency_code,
        day,
    )
    booked: int = await conn.fetchval(
        "SELECT booked FROM appointment_day WHERE site_id = $1 AND agency_code = $2 AND day = $3 FOR UPDATE",
        site_id,
        agency_code,
        day,
    )
    return booked


async def seats_taken(conn: asyncpg.Connection, site_id: str, agency_code: str, day: date) -> Counter[int]:
    """Seats held per slot of the day (a missed appointment keeps its seat)."""
    rows = await conn.fetch(
        "SELECT slot, count(*) AS n FROM appointment WHERE site_id = $1 AND agency_code = $2 AND day = $3"
        " AND status <> 'cancelled' GROUP BY slot",
        site_id,
        agency_code,
        day,
    )
    return Counter({row["slot"]: row["n"] for row in rows})


async def count_seat(conn: asyncpg.Connection, site_id: str, agency_code: str, day: date, delta: int) -> None:
    """Take (+1) or give back (-1) a seat of a day whose row this transaction has locked (`lock_day`)."""
    await conn.execute(
        "UPDATE appointment_day SET booked = booked + $4 WHERE site_id = $1 AND agency_code = $2 AND day = $3",
        site_id,
        agency_code,
        day,
        delta,
    )


async def record_appointment(conn: asyncpg.Connection, held: HeldAppointment, day_ends_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO appointment(application_id, site_id, agency_code, day, slot, starts_at, timezone, status,"
        " site_name, bring, day_ends_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'booked', $8, $9, $10)",
        held.application_id,
        held.site_id,
        held.agency_code,
        held.day,
        held.slot,
        held.starts_at,
        str(held.starts_at.tzinfo),
        held.site_name,
        list(held.bring),
        day_ends_at,
    )


async def move_appointment(
    conn: asyncpg.Connection,
    application_id: UUID,
    day: date,
    slot: int,
    starts_at: datetime,
    day_ends_at: datetime,
) -> None:
    await conn.execute(
        "UPDATE appointment SET day = $2, slot = $3, starts_at = $4, day_ends_at = $5, status = 'booked',"
        " checked_in_at = NULL WHERE application_id = $1",
        application_id,
        day,
        slot,
        starts_at,
        day_ends_at,
    )


async def set_status(
    conn: asyncpg.Connection, application_id: UUID, status: Literal["cancelled", "missed"]
) -> None:
    await conn.execute("UPDATE appointment SET status = $2 WHERE application_id = $1", application_id, status)


async def change_recorded(conn: asyncpg.Connection, key: str) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM appointment_change WHERE change_key = $1)", key
    )
    return found


async def record_change(
    conn: asyncpg.Connection,
    key: str,
    application_id: UUID,
    kind: ChangeKind,
    previous_starts_at: datetime | None,
    starts_at: datetime | None = None,
) -> None:
    """One effect on an appointment under its unique key: a second one with the same key fails the transaction
    (and the event is retried, to find the effect done)."""
    await conn.execute(
        "INSERT INTO appointment_change(change_key, application_id, kind, previous_starts_at, starts_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        key,
        application_id,
        kind,
        previous_starts_at,
        starts_at,
    )


async def mark_checked_in(conn: asyncpg.Connection, application_id: UUID, site_id: str, at: datetime) -> None:
    """The applicant arrived at the site of the appointment (a status change there); the first arrival counts."""
    await conn.execute(
        "UPDATE appointment SET checked_in_at = $3 WHERE application_id = $1 AND site_id = $2"
        " AND checked_in_at IS NULL",
        application_id,
        site_id,
        at,
    )


async def due_no_shows(
    conn: asyncpg.Connection, ended_before: datetime, limit: int
) -> list[tuple[Applicant, HeldAppointment]]:
    """Booked appointments whose agency day ended before `ended_before` without a check-in, locked (replicas
    sweeping at once take different rows)."""
    rows = await conn.fetch(
        f"SELECT {APPOINTMENT_COLUMNS}, {APPLICANT_COLUMNS} FROM appointment a"
        " JOIN routing_decision d USING (application_id)"
        " WHERE a.status = 'booked' AND a.checked_in_at IS NULL AND a.day_ends_at <= $1"
        " ORDER BY a.day_ends_at LIMIT $2 FOR UPDATE OF a SKIP LOCKED",
        ended_before,
        limit,
    )
    return [(_applicant(row), _held(row)) for row in rows]


# ------------------------------------------------------------------ ops reads


async def seats_by_slot(
    conn: asyncpg.Connection, site_id: str, agency_code: str, day: date
) -> tuple[int, dict[datetime, int]]:
    """Seats held on the agency's day at the site: in all, and per slot start time."""
    booked = await conn.fetchval(
        "SELECT booked FROM appointment_day WHERE site_id = $1 AND agency_code = $2 AND day = $3",
        site_id,
        agency_code,
        day,
    )
    rows = await conn.fetch(
        "SELECT starts_at, count(*) AS n FROM appointment WHERE site_id = $1 AND agency_code = $2 AND day = $3"
        " AND status <> 'cancelled' GROUP BY starts_at",
        site_id,
        agency_code,
        day,
    )
    return booked or 0, {row["starts_at"]: row["n"] for row in rows}


async def decisions_on(conn: asyncpg.Connection, day: date, timezone: str) -> list[dict[str, Any]]:
    """Decisions made on `day` (in `timezone`), counted per origin site and outcome."""
    rows = await conn.fetch(
        "SELECT origin_site_id, outcome, count(*) AS n FROM routing_decision"
        " WHERE decided_at >= ($1::date)::timestamp AT TIME ZONE $2"
        " AND decided_at < ($1::date + 1)::timestamp AT TIME ZONE $2"
        " GROUP BY origin_site_id, outcome ORDER BY origin_site_id, outcome",
        day,
        timezone,
    )
    return [dict(row) for row in rows]


async def seats_held_per_day(
    conn: asyncpg.Connection, site_id: str, first_day: date, last_day: date
) -> dict[str, dict[date, int]]:
    """Seats held at the site from `first_day` to `last_day`, per agency and day."""
    rows = await conn.fetch(
        "SELECT agency_code, day, booked FROM appointment_day WHERE site_id = $1 AND day BETWEEN $2 AND $3",
        site_id,
        first_day,
        last_day,
    )
    held: dict[str, dict[date, int]] = {}
    for row in rows:
        held.setdefault(row["agency_code"], {})[row["day"]] = row["booked"]
    return held
