"""Booking central appointments on the real database: schedule days, daily quota, parallel desks, horizon."""

from __future__ import annotations

import asyncio
from datetime import date, time
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

import routing
from mpp_contracts.catalog import AgencyHours, Hours, SiteState
from mpp_kit.db import create_pool, migrate
from routing.handlers import book

MIGRATIONS = Path(routing.__file__).parent / "migrations"
MONDAY = date(2026, 12, 7)
IMIGRASI = AgencyHours(
    agency_code="IMIGRASI",
    days=("mon", "wed"),
    opens=time(8),
    closes=time(12),
    daily_quota=3,
    slot_minutes=15,
    counters=2,
)
CENTRAL = SiteState(
    slug="mpp-tenggarong",
    name="MPP Kukar",
    kind="central",
    kemendagri_code="64.02.06",
    opening_hours={"mon": Hours(opens=time(8), closes=time(9))},
    schedules=(IMIGRASI,),
)


@pytest.fixture
async def pool(database: str):
    await migrate(database, MIGRATIONS)
    async with await create_pool(database, max_size=20) as p:
        yield p


async def take(pool: asyncpg.Pool, agency: str = "IMIGRASI", today: date = MONDAY, horizon: int = 30):
    async with pool.acquire() as conn, conn.transaction():
        return await book(
            conn,
            application_id=uuid4(),
            site=CENTRAL,
            agency_code=agency,
            service_code="X",
            today=today,
            lead_days=1,
            horizon_days=horizon,
        )


async def test_slots_follow_schedule_days_desks_and_quota(pool: asyncpg.Pool) -> None:
    # Submitted on a Monday: the earliest day is Wednesday (Tuesday is not an Imigrasi day).
    starts = [await take(pool) for _ in range(4)]
    assert [s.strftime("%a %d %H:%M") for s in starts] == [
        "Wed 09 08:00",
        "Wed 09 08:00",
        "Wed 09 08:15",  # two desks share a slot; the quota is 3
        "Mon 14 08:00",  # Wednesday full: next schedule day
    ]
    assert all(s.utcoffset().total_seconds() == 8 * 3600 for s in starts)


async def test_concurrent_bookings_never_exceed_the_quota(pool: asyncpg.Pool) -> None:
    starts = await asyncio.gather(*(take(pool, horizon=3) for _ in range(10)))
    booked = [s for s in starts if s is not None]
    assert len(booked) == 3, "only Wednesday lies within a 3-day horizon, and it takes 3"
    assert await pool.fetchval("SELECT max(booked) FROM appointment_day") == 3


async def test_full_horizon_books_nothing(pool: asyncpg.Pool) -> None:
    assert [await take(pool, horizon=2) for _ in range(4)][-1] is None


async def test_agency_without_schedule_uses_site_opening_hours_in_half_hours(pool: asyncpg.Pool) -> None:
    starts = [await take(pool, agency="DUKCAPIL", today=date(2026, 12, 6)) for _ in range(3)]
    assert [s.strftime("%a %d %H:%M") for s in starts] == ["Mon 07 08:00", "Mon 07 08:30", "Mon 14 08:00"]
