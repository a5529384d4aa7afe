"""What happens to a booked appointment: moved (the old seat freed in the same transaction), given back (by a
request or a cancellation at the origin), kept (a check-in at the handling site) or missed (recorded once, the seat
not given back). Each change is published on the decision topic and the handling site's inbox, once."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

from mpp_contracts.intake import ApplicationStatus, ApplicationStatusChanged, AppointmentChangeRequested
from routing import operations
from tests.routing.conftest import PASPOR, Routing, at, submitted

WEDNESDAY, THURSDAY = date(2026, 12, 9), date(2026, 12, 10)


async def booked(rt: Routing, origin: str = "tabang") -> UUID:
    event = submitted(PASPOR.code, site_id=origin)
    await rt.handle(event)
    return event.application_id


def change(application_id: UUID, kind: str, not_before: date | None = None) -> AppointmentChangeRequested:
    return AppointmentChangeRequested.model_validate(
        {
            "application_id": application_id,
            "tracking_code": "ABCD-EFGH",
            "site_id": "tabang",
            "change": kind,
            "not_before": not_before,
            "requested_by": "ani",
        }
    )


def status(application_id: UUID, value: ApplicationStatus, site_id: str) -> ApplicationStatusChanged:
    return ApplicationStatusChanged(
        application_id=application_id,
        tracking_code="ABCD-EFGH",
        site_id=site_id,
        service_code=PASPOR.code,
        status=value,
        applicant_first_name="Rahmat",
        sealed_phone="sealed",
    )


async def changes(rt: Routing, application_id: UUID) -> list[tuple[str, dict[str, Any]]]:
    return [(t, p) for t, p in await rt.events(application_id) if p["type"].startswith("appointment.")]


async def test_a_reschedule_frees_the_old_seat_and_takes_a_new_one_once(rt: Routing) -> None:
    moving = await booked(rt)
    assert (await rt.slot(moving)).strftime("%a %H:%M") == "Wed 08:00"
    request = change(moving, "reschedule", not_before=THURSDAY)
    await rt.handle(request)
    await rt.handle(request)  # past the inbox: the change is keyed by the request

    assert (await rt.slot(moving)).strftime("%a %d %H:%M") == "Thu 10 08:00"
    assert (await rt.held(WEDNESDAY), await rt.held(THURSDAY)) == (0, 1)
    [(topic_a, moved), (topic_b, same)] = await changes(rt, moving)
    assert (topic_a, topic_b) == ("routing.decision.v1", "site.mpp-tenggarong.inbox.v1")
    assert {**moved, "event_id": None} == {**same, "event_id": None}
    assert (moved["type"], moved["reason"]) == ("appointment.rescheduled", "rescheduled")
    assert moved["previous"]["starts_at"] == "2026-12-09T08:00:00+08:00"
    assert moved["appointment"]["starts_at"] == "2026-12-10T08:00:00+08:00"
    assert (moved["applicant_first_name"], moved["sealed_phone"], moved["service_name"]) == (
        "Rahmat",
        "sealed",
        "Paspor Baru",
    )
    # The freed seat is the next applicant's.
    assert (await rt.slot(await booked(rt))).strftime("%a %H:%M") == "Wed 08:00"


async def test_a_reschedule_without_a_date_takes_a_later_seat_not_the_same(rt: Routing) -> None:
    moving = await booked(rt)
    await rt.handle(change(moving, "reschedule"))
    assert (await rt.slot(moving)).strftime("%a %H:%M") == "Thu 08:00"


async def test_a_reschedule_with_no_free_seat_keeps_the_old_one_and_says_so(rt: Routing, monkeypatch) -> None:
    monkeypatch.setattr(rt.ctx, "settings", rt.ctx.settings.model_copy(update={"booking_horizon_days": 2}))
    moving = await booked(rt)
    await rt.handle(change(moving, "reschedule"))
    assert (await rt.slot(moving)).strftime("%a %H:%M") == "Wed 08:00"
    [(_, kept), _] = await changes(rt, moving)
    assert (kept["reason"], kept["appointment"], kept["retry_from"]) == (
        "no_slot_to_reschedule",
        None,
        "2026-12-10",
    )
    assert await rt.held(WEDNESDAY) == 1


async def test_a_cancel_request_and_a_cancellation_at_the_origin_free_the_seat_once(rt: Routing) -> None:
    by_request, by_status, elsewhere = await booked(rt), await booked(rt), await booked(rt)
    assert await rt.held(WEDNESDAY) == 3
    await rt.handle(change(by_request, "cancel"))
    await rt.handle(change(by_request, "cancel"))  # asked twice: nothing more to give back
    await rt.handle(status(by_status, "cancelled", "tabang"))
    await rt.handle(status(elsewhere, "cancelled", "loa-kulu"))  # not its origin nor its handling site
    assert await rt.held(WEDNESDAY) == 1
    for cancelled in (by_request, by_status):
        [(_, event), (inbox, _)] = await changes(rt, cancelled)
        assert (event["type"], event["reason"], inbox) == (
            "appointment.cancelled",
            "cancelled",
            "site.mpp-tenggarong.inbox.v1",
        )
        assert event["previous"]["starts_at"].startswith("2026-12-09T08:")
    assert await changes(rt, elsewhere) == []


async def test_a_no_show_is_recorded_once_and_its_seat_is_not_given_back(rt: Routing) -> None:
    missed, came, came_elsewhere = await booked(rt), await booked(rt), await booked(rt)
    await rt.handle(status(came, "checked_in", "mpp-tenggarong"))
    await rt.handle(status(came_elsewhere, "in_progress", "tabang"))  # at its origin: not an arrival
    rt.now(at(WEDNESDAY, 9, 30))  # Imigrasi closed at 09:00; the grace period runs to 10:00
    assert await operations.sweep_no_shows(rt.ctx) == 0
    rt.now(at(WEDNESDAY, 10, 0))
    assert await operations.sweep_no_shows(rt.ctx) == 2
    assert await operations.sweep_no_shows(rt.ctx) == 0

    [(topic, event), (inbox, same)] = await changes(rt, missed)
    assert (topic, inbox) == ("routing.decision.v1", "site.mpp-tenggarong.inbox.v1")
    assert {**event, "event_id": None} == {**same, "event_id": None}
    assert (event["type"], event["reason"]) == ("appointment.missed", "no_show")
    assert await changes(rt, came) == []
    assert len(await changes(rt, came_elsewhere)) == 2
    assert await rt.held(WEDNESDAY) == 3, "missed seats stay taken"

    # The way back: a missed appointment may still be moved (its seat stays counted on the missed day).
    await rt.handle(change(missed, "reschedule"))
    assert (await rt.slot(missed)).strftime("%a %d") == "Fri 11"  # Tabang: two days after Wednesday
    assert await rt.held(WEDNESDAY) == 3


async def test_changes_for_an_application_without_an_appointment_change_nothing(rt: Routing) -> None:
    unknown = uuid4()
    await rt.handle(change(unknown, "reschedule"))
    await rt.handle(status(unknown, "cancelled", "tabang"))
    assert await rt.events(unknown) == []
