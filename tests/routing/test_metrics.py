"""Routing's own metrics: decisions by outcome and reason, and the central places left for the coming week per
agency, read from its tables."""

from __future__ import annotations

from datetime import date

from prometheus_client import REGISTRY

from routing.metrics import refresh_free_slots
from tests.routing.conftest import AKTA, CENTRAL_ID, NOWHERE, PASPOR, Routing, at, submitted


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_free_places_of_the_week_count_the_quota_left_on_the_days_the_agency_serves(
    rt: Routing,
) -> None:
    # Monday 7 December 2026, 07:00: Imigrasi serves Monday to Friday, four places a day; the week ahead is
    # Monday 7 to Sunday 13, five serving days.
    await refresh_free_slots(rt.ctx)
    assert value("routing_free_slots_next_7_days", site_id=CENTRAL_ID, agency_code="IMIGRASI") == 20
    # DUKCAPIL has no schedule at the central site: its opening hours, 08:00-15:00 in 30-minute slots.
    assert value("routing_free_slots_next_7_days", site_id=CENTRAL_ID, agency_code="DUKCAPIL") == 5 * 14
    for _ in range(3):
        await rt.handle(submitted(PASPOR.code, site_id="loa-kulu"))  # lead 0: today from 08:00
    await refresh_free_slots(rt.ctx)
    assert value("routing_free_slots_next_7_days", site_id=CENTRAL_ID, agency_code="IMIGRASI") == 17


async def test_the_week_follows_the_clock(rt: Routing) -> None:
    rt.now(at(date(2026, 12, 10), 7))  # Thursday: Thu, Fri, then Monday to Wednesday of the next week
    await refresh_free_slots(rt.ctx)
    assert value("routing_free_slots_next_7_days", site_id=CENTRAL_ID, agency_code="IMIGRASI") == 20


async def test_decisions_are_counted_by_outcome_and_reason(rt: Routing) -> None:
    def counted(outcome: str, reason: str) -> float:
        return value("routing_decisions_total", outcome=outcome, reason=reason)

    before = {key: counted(*key) for key in (("local", "offered_here"), ("central", "central_only"))}
    before[("refused", "not_offered")] = counted("refused", "not_offered")
    rt.ctx.services.items[NOWHERE.code] = NOWHERE
    for code in (AKTA.code, PASPOR.code, NOWHERE.code):
        await rt.handle(submitted(code))
    assert {key: counted(*key) - was for key, was in before.items()} == {
        ("local", "offered_here"): 1,
        ("central", "central_only"): 1,
        ("refused", "not_offered"): 1,
    }
