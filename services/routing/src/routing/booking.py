"""Booking the next free slot at a site within an agency's schedule and daily quota.

A day's n-th booking (0-based) takes slot n // counters: `counters` desks serve in parallel, one applicant per
`slot_minutes`. The quota is enforced by a conditional upsert, so concurrent routing replicas cannot overbook.
When the agency has no schedule at the site, the site's opening hours stand in, with 30-minute slots at one desk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from mpp_contracts.catalog import AgencyHours, SiteState

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FALLBACK_SLOT_MINUTES = 30


@dataclass(frozen=True)
class Window:
    opens: time
    closes: time
    quota: int
    slot_minutes: int
    counters: int


def schedule_for(site: SiteState, agency_code: str, service_code: str) -> AgencyHours | None:
    for hours in site.schedules:
        if hours.agency_code == agency_code and hours.covers(service_code):
            return hours
    return None


def window_on(site: SiteState, schedule: AgencyHours | None, day: date) -> Window | None:
    key = WEEKDAY_KEYS[day.weekday()]
    if schedule is not None:
        if key not in schedule.days:
            return None
        return Window(
            schedule.opens, schedule.closes, schedule.daily_quota, schedule.slot_minutes, schedule.counters
        )
    hours = site.opening_hours.get(key)  # type: ignore[call-overload]
    if hours is None:
        return None
    minutes = (hours.closes.hour * 60 + hours.closes.minute) - (hours.opens.hour * 60 + hours.opens.minute)
    return Window(hours.opens, hours.closes, minutes // FALLBACK_SLOT_MINUTES, FALLBACK_SLOT_MINUTES, 1)


async def book(
    conn: asyncpg.Connection,
    *,
    application_id: UUID,
    site: SiteState,
    agency_code: str,
    service_code: str,
    today: date,
    lead_days: int,
    horizon_days: int,
) -> datetime | None:
    """Take the first free slot from `today + lead_days` within the horizon; None when every day is full."""
    existing = await conn.fetchval(
        "SELECT starts_at FROM appointment WHERE application_id = $1", application_id
    )
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    schedule = schedule_for(site, agency_code, service_code)
    tz = ZoneInfo(site.timezone)
    for offset in range(lead_days, horizon_days + 1):
        day = today + timedelta(days=offset)
        window = window_on(site, schedule, day)
        if window is None or window.quota <= 0:
            continue
        taken = await conn.fetchval(
            "INSERT INTO appointment_day(site_id, agency_code, day, booked) VALUES ($1, $2, $3, 1)"
            " ON CONFLICT (site_id, agency_code, day) DO UPDATE SET booked = appointment_day.booked + 1"
            " WHERE appointment_day.booked < $4 RETURNING booked",
            site.slug,
            agency_code,
            day,
            window.quota,
        )
        if taken is None:
            continue
        slot = (taken - 1) // window.counters
        starts = datetime.combine(day, window.opens, tz) + timedelta(minutes=slot * window.slot_minutes)
        await conn.execute(
            "INSERT INTO appointment(application_id, site_id, agency_code, day, slot, starts_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            application_id,
            site.slug,
            agency_code,
            day,
            slot,
            starts,
        )
        return starts
    return None
