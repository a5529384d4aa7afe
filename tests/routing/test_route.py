"""Routing a submitted application through the handler create_app registers, on a real database: the decision, the
booking and what goes out (decision topic, handling site's inbox); every refusal ends in one decision event."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from mpp_contracts.intake import ApplicationStatusChanged
from tests.routing.conftest import AKTA, CENTRAL, NOWHERE, PASPOR, Routing, at, submitted

MONDAY = date(2026, 12, 7)


async def test_local_service_stays_at_the_site_with_an_expected_completion(rt: Routing) -> None:
    event = submitted(AKTA.code)
    await rt.handle(event)
    [(topic, decision)] = await rt.events(event.application_id)
    assert topic == "routing.decision.v1"
    assert (decision["outcome"], decision["handling_site_id"]) == ("local", "tabang")
    assert decision["origin_site_name"] == "Mini MPP Kecamatan Tabang"
    assert decision["expected_completion"] == "2026-12-10"
    assert decision["reason"] == "offered_here"
    assert decision["reason_text"] == "Layanan ini diproses di tempat Anda mengajukan permohonan."


async def test_central_only_service_is_booked_and_forwarded_with_what_the_central_site_shows(
    rt: Routing,
) -> None:
    event = submitted(PASPOR.code)
    await rt.handle(event)
    [(_, decision), (inbox, case)] = await rt.events(event.application_id)
    assert inbox == "site.mpp-tenggarong.inbox.v1"
    assert (decision["outcome"], decision["central_only_reason"], decision["reason"]) == (
        "central",
        "biometrics",
        "central_only",
    )
    assert "sidik jari" in decision["reason_text"]
    assert decision["appointment"] == case["appointment"]
    # Tabang is two days away: Wednesday, not Monday or Tuesday.
    assert case["appointment"]["starts_at"] == "2026-12-09T08:00:00+08:00"
    assert (case["appointment"]["site_name"], case["appointment"]["bring"]) == ("MPP Kukar", ["KTP-el"])
    assert (case["applicant_first_name"], case["service_name"], case["origin_site_name"]) == (
        "Rahmat",
        "Paspor Baru",
        "Mini MPP Kecamatan Tabang",
    )


async def test_a_full_day_sends_the_next_applicant_to_the_next_open_day(rt: Routing) -> None:
    events = [submitted(PASPOR.code) for _ in range(5)]
    for event in events:
        await rt.handle(event)
    starts = [(await rt.starts(e.application_id)) for e in events]
    assert [s.strftime("%a %d %H:%M") for s in starts if s] == [
        "Wed 09 08:00",
        "Wed 09 08:15",
        "Wed 09 08:30",
        "Wed 09 08:45",
        "Thu 10 08:00",  # four a day
    ]


@pytest.mark.parametrize(
    ("refused", "reason"),
    [
        (submitted("NO-SUCH-SERVICE"), "unknown_service"),
        (submitted(NOWHERE.code), "not_offered"),
    ],
)
async def test_every_refusal_ends_in_one_decision_event(rt: Routing, refused, reason: str) -> None:
    rt.ctx.services.items[NOWHERE.code] = NOWHERE
    await rt.handle(refused)
    [(topic, decision)] = await rt.events(refused.application_id)
    assert (topic, decision["outcome"], decision["refusal_reason"], decision["reason"]) == (
        "routing.decision.v1",
        "refused",
        reason,
        reason,
    )
    assert decision["reason_text"]


async def test_a_full_horizon_is_refused_with_the_day_to_try_again(rt: Routing, monkeypatch) -> None:
    monkeypatch.setattr(rt.ctx, "settings", rt.ctx.settings.model_copy(update={"booking_horizon_days": 2}))
    # Horizon Monday..Wednesday; Tabang reaches Wednesday only, which takes four.
    events = [submitted(PASPOR.code) for _ in range(5)]
    for event in events:
        await rt.handle(event)
    [(_, refusal)] = await rt.events(events[-1].application_id)
    assert (refusal["outcome"], refusal["refusal_reason"], refusal["appointment"]) == (
        "refused",
        "quota_full",
        None,
    )
    assert (refusal["full_site_name"], refusal["retry_from"]) == ("MPP Kukar", "2026-12-10")
    assert refusal["reason"] == "quota_full"


async def test_a_site_missing_from_the_catalogue_is_an_error_to_retry_not_a_decision(rt: Routing) -> None:
    del rt.ctx.sites.items[CENTRAL.slug]
    event = submitted(PASPOR.code)
    with pytest.raises(RuntimeError, match="not in the catalogue"):
        await rt.handle(event)
    assert await rt.events(event.application_id) == []
    rt.ctx.sites.items[CENTRAL.slug] = CENTRAL
    await rt.handle(event)  # the consumer's next attempt
    assert (await rt.decision(event.application_id))["outcome"] == "central"


async def test_the_same_application_routed_again_changes_nothing(rt: Routing) -> None:
    event = submitted(PASPOR.code)
    await rt.handle(event)
    before = await rt.events(event.application_id)
    await rt.handle(event)  # re-delivered past the inbox (re-published under a new event id, say)
    await rt.handle(event.model_copy(update={"event_id": uuid4()}))
    assert await rt.events(event.application_id) == before
    assert await rt.held(date(2026, 12, 9)) == 1


async def test_status_changes_other_than_cancel_and_arrival_change_nothing(rt: Routing) -> None:
    changed = ApplicationStatusChanged(
        application_id=uuid4(),
        tracking_code="ABCD-EFGH",
        site_id="tabang",
        service_code=AKTA.code,
        status="in_progress",
        applicant_first_name="Rahmat",
        sealed_phone="sealed",
    )
    await rt.handle(changed)
    assert await rt.events(changed.application_id) == []


async def test_the_lead_of_the_origin_site_decides_the_first_slot(rt: Routing) -> None:
    async def first_slot(origin: str) -> str:
        event = submitted(PASPOR.code, site_id=origin)
        await rt.handle(event)
        starts = await rt.starts(event.application_id)
        assert starts is not None
        return starts.strftime("%a %d %H:%M")

    rt.now(at(MONDAY, 7, 10))  # Imigrasi serves 08:00-09:00
    assert [await first_slot(o) for o in ("loa-kulu", "kota-bangun", "tabang")] == [
        "Mon 07 08:00",  # lead 0: the same day, from the next full hour
        "Tue 08 08:00",  # lead 1
        "Wed 09 08:00",  # lead 2: Tabang is never booked for the next morning
    ]
    rt.now(at(MONDAY, 8, 10))
    assert await first_slot("loa-kulu") == "Tue 08 08:15", "no slot of the day starts after 09:00"


async def test_the_lead_floor_setting_raises_every_site(rt: Routing, monkeypatch) -> None:
    monkeypatch.setattr(rt.ctx, "settings", rt.ctx.settings.model_copy(update={"booking_lead_days": 1}))
    event = submitted(PASPOR.code, site_id="loa-kulu")
    await rt.handle(event)
    starts = await rt.starts(event.application_id)
    assert starts is not None and starts.date() == date(2026, 12, 8)
