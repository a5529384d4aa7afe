"""All of routing's SQL: decisions and central appointments. Every function runs on the caller's connection, inside
the caller's transaction (the inbox transaction of the event being routed)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg

from mpp_contracts.intake import ApplicationSubmitted
from routing.domain import Decision


async def record_decision(conn: asyncpg.Connection, event: ApplicationSubmitted, decision: Decision) -> None:
    await conn.execute(
        "INSERT INTO routing_decision(application_id, origin_site_id, service_code, outcome, handling_site_id,"
        " reason) VALUES ($1, $2, $3, $4, $5, $6)",
        event.application_id,
        event.site_id,
        event.service_code,
        decision.outcome,
        decision.handling_site_id,
        decision.refusal_reason or decision.central_only_reason,
    )


async def appointment_start(conn: asyncpg.Connection, application_id: UUID) -> datetime | None:
    """When the application's appointment starts, if one is booked already."""
    starts: datetime | None = await conn.fetchval(
        "SELECT starts_at FROM appointment WHERE application_id = $1", application_id
    )
    return starts


async def take_place(
    conn: asyncpg.Connection, site_id: str, agency_code: str, day: date, quota: int
) -> int | None:
    """Count one more booking of the agency at the site on `day` if the day is under its quota, and return which
    booking of the day it is (1-based); None when the day is full. One conditional upsert: concurrent routing
    replicas cannot overbook (the row lock orders them, and each sees the count the previous one left)."""
    nth: int | None = await conn.fetchval(
        "INSERT INTO appointment_day(site_id, agency_code, day, booked) VALUES ($1, $2, $3, 1)"
        " ON CONFLICT (site_id, agency_code, day) DO UPDATE SET booked = appointment_day.booked + 1"
        " WHERE appointment_day.booked < $4 RETURNING booked",
        site_id,
        agency_code,
        day,
        quota,
    )
    return nth


async def record_appointment(
    conn: asyncpg.Connection,
    application_id: UUID,
    site_id: str,
    agency_code: str,
    day: date,
    slot: int,
    starts: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO appointment(application_id, site_id, agency_code, day, slot, starts_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        application_id,
        site_id,
        agency_code,
        day,
        slot,
        starts,
    )
