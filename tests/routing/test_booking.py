"""Booking central appointments on the real database: the calendar (public holidays, cuti bersama, closures), and
concurrent bookings never over the quota, none lost, none twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, time

from mpp_contracts.catalog import AgencyHours
from tests.routing.conftest import CENTRAL, PASPOR, Routing, at, submitted


def imigrasi(**change: object) -> AgencyHours:
    return CENTRAL.schedules[0].model_copy(update=change)


async def first_slot(rt: Routing, origin: str, on: date) -> str:
    event = submitted(PASPOR.code, site_id=origin, on=on)
    await rt.handle(event)
    starts = await rt.starts(event.application_id)
    assert starts is not None
    return starts.strftime("%a %Y-%m-%d %H:%M")


async def test_christmas_cuti_bersama_and_holiday_are_skipped(rt: Routing) -> None:
    # Wednesday 23 December 2026 from Kota Bangun (lead 1): Thursday 24th is cuti bersama Natal, Friday 25th
    # Christmas; Monday 28th is the first day anyone serves.
    rt.now(at(date(2026, 12, 23), 9))
    assert await first_slot(rt, "kota-bangun", date(2026, 12, 23)) == "Mon 2026-12-28 08:00"


async def test_idul_fitri_and_its_cuti_bersama_are_skipped(rt: Routing) -> None:
    # Thursday 19 March 2026 (Nyepi, an online application): Friday 20th, Monday 23rd and Tuesday 24th are cuti
    # bersama Idul Fitri, the 21st and 22nd Idul Fitri itself.
    rt.now(at(date(2026, 3, 19), 9))
    assert await first_slot(rt, "loa-kulu", date(2026, 3, 19)) == "Wed 2026-03-25 08:00"


async def test_closures_of_the_site_and_of_the_agency_are_skipped(rt: Routing) -> None:
    closed = CENTRAL.model_copy(
        update={
            "closed_on": (date(2026, 12, 8),),
            "schedules": (imigrasi(closed_on=(date(2026, 12, 9),)),),
        }
    )
    rt.ctx.sites.items[CENTRAL.slug] = closed
    assert await first_slot(rt, "kota-bangun", date(2026, 12, 7)) == "Thu 2026-12-10 08:00"


async def test_expected_completion_skips_holidays_and_site_closures(rt: Routing) -> None:
    from tests.routing.conftest import AKTA, TABANG

    rt.ctx.sites.items["tabang"] = TABANG.model_copy(update={"closed_on": (date(2026, 12, 28),)})
    event = submitted(AKTA.code, on=date(2026, 12, 22))  # Tuesday; three working days
    await rt.handle(event)
    # Wed 23 (1), Thu 24 cuti, Fri 25 Natal, Mon 28 closed, Tue 29 (2), Wed 30 (3).
    assert (await rt.decision(event.application_id))["expected_completion"] == "2026-12-30"


async def test_one_hundred_concurrent_bookings_for_thirty_places_a_day(rt: Routing) -> None:
    # 30 a day: 08:00-12:00 in 15-minute slots at two desks (32 seats).
    rt.ctx.sites.items[CENTRAL.slug] = CENTRAL.model_copy(
        update={"schedules": (imigrasi(closes=time(12), daily_quota=30, counters=2),)}
    )
    events = [submitted(PASPOR.code, site_id="kota-bangun") for _ in range(100)]
    await asyncio.gather(*(rt.handle(e) for e in events))

    rows = await rt.pool.fetch("SELECT application_id, day, slot FROM appointment")
    assert len(rows) == 100 and {r["application_id"] for r in rows} == {e.application_id for e in events}
    per_day = Counter(r["day"].isoformat() for r in rows)
    assert per_day == {"2026-12-08": 30, "2026-12-09": 30, "2026-12-10": 30, "2026-12-11": 10}
    per_seat = Counter((r["day"], r["slot"]) for r in rows)
    assert max(per_seat.values()) == 2, "two desks: never three applicants in one slot"
    assert [await rt.held(date(2026, 12, d)) for d in (8, 9, 10, 11)] == [30, 30, 30, 10]
    decisions = await rt.pool.fetchval("SELECT count(*) FROM routing_decision WHERE outcome = 'central'")
    assert decisions == 100
