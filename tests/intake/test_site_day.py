"""The site's working day: routing's answers at the origin, arrivals at the central site, results that come home,
the queue with its tickets, search, cancel and reschedule requests, the checklist, and public tracking.

The test intake plays either side: the origin (its own submits, routing's decisions about them) or the central
site (cases forwarded to it from `ORIGIN`). Events are applied the way its consumers apply them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import httpx

from intake.domain import new_tracking_code
from mpp_contracts.routing import (
    ApplicationForwarded,
    ApplicationRouted,
    Appointment,
    AppointmentCancelled,
    AppointmentMissed,
    AppointmentRescheduled,
    ResultReturned,
)
from mpp_kit.sealing import PHONE, seal
from tests.intake.conftest import CHECKED, OTHER_SITE_TOKEN, PASSPORT, SERVICE, SIM, Intake

ORIGIN = "tabang-test"
APPLICANT = {"name": "Rahmat Hidayat", "nik": "6402121505880003", "phone": "0813-5000-2001"}
WITA = ZoneInfo("Asia/Makassar")


def appointment(site_id: str, days: int = 1, hour: int = 8) -> Appointment:
    day = datetime.now(WITA).date() + timedelta(days=days)
    return Appointment(
        site_id=site_id,
        site_name="MPP Tenggarong",
        starts_at=datetime(day.year, day.month, day.day, hour, 0, tzinfo=WITA),
        bring=("KTP-el asli", "Kartu Keluarga asli"),
    )


async def submit(intake: Intake, service: str = SERVICE, **body: Any) -> dict[str, Any]:
    response = await intake.client.post(
        "/applications",
        json={"service_code": service, "applicant": APPLICANT, **body},
        headers=intake.operator(),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def view(intake: Intake, application_id: object) -> dict[str, Any]:
    response = await intake.client.get(f"/applications/{application_id}", headers=intake.operator())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def post(
    intake: Intake, application_id: object, action: str, body: object = None, *, supervisor: bool = False
) -> httpx.Response:
    headers = intake.supervisor() if supervisor else intake.operator()
    return await intake.client.post(f"/applications/{application_id}/{action}", json=body, headers=headers)


def routed(intake: Intake, accepted: dict[str, Any], outcome: str, **fields: Any) -> ApplicationRouted:
    return ApplicationRouted(
        application_id=accepted["application_id"],
        tracking_code=accepted["tracking_code"],
        origin_site_id=intake.site_id,
        origin_site_name="Mini MPP Test",
        service_code=accepted["service_code"],
        service_name="Layanan",
        outcome=outcome,
        applicant_first_name="Rahmat",
        sealed_phone="v1.x",
        **fields,
    )


def forwarded_here(intake: Intake, service: str = PASSPORT, days: int = 1) -> ApplicationForwarded:
    key = intake.context.settings.contact_sealing_key.get_secret_value()
    application_id = uuid4()
    return ApplicationForwarded(
        application_id=application_id,
        tracking_code=new_tracking_code(),
        origin_site_id=ORIGIN,
        origin_site_name="Mini MPP Tabang",
        handling_site_id=intake.site_id,
        service_code=service,
        central_only_reason="biometrics",
        appointment=appointment(intake.site_id, days),
        service_name="Penerbitan Paspor",
        applicant_first_name="Rahmat",
        sealed_phone=seal("+6281350002001", key, purpose=PHONE, bound_to=application_id),
    )


def statuses(events: list[dict[str, Any]], application_id: object) -> list[tuple[str | None, str]]:
    return [
        (e["previous_status"], e["status"])
        for e in events
        if e["type"] == "application.status_changed" and e["application_id"] == str(application_id)
    ]


# ---- at the origin -----------------------------------------------------------------------------------------


async def test_a_forwarded_application_waits_for_its_result_and_is_then_ready_here(intake: Intake) -> None:
    accepted = await submit(intake, PASSPORT)
    booked = appointment("mpp-tenggarong")
    await intake.handle(
        routed(intake, accepted, "central", handling_site_id="mpp-tenggarong", appointment=booked)
    )
    seen = await view(intake, accepted["application_id"])
    assert seen["status"] == "forwarded"
    assert seen["appointment"]["site_name"] == "MPP Tenggarong" and seen["appointment"]["bring"]

    await intake.handle(
        ResultReturned(
            application_id=accepted["application_id"],
            tracking_code=accepted["tracking_code"],
            origin_site_id=intake.site_id,
            handling_site_id="mpp-tenggarong",
            handling_site_name="MPP Tenggarong",
            service_code=PASSPORT,
        )
    )
    assert (await view(intake, accepted["application_id"]))["status"] == "ready_for_pickup"
    done = await post(intake, accepted["application_id"], "status", {"status": "completed"})
    assert done.status_code == 200, done.text

    events = await intake.events()
    assert statuses(events, accepted["application_id"]) == [
        ("submitted", "forwarded"),
        ("forwarded", "ready_for_pickup"),
        ("ready_for_pickup", "completed"),
    ]
    ready = next(e for e in events if e.get("status") == "ready_for_pickup")
    assert (ready["changed_by"], ready["site_name"], ready["site_id"]) == (
        "system",
        "Mini MPP Test",
        intake.site_id,
    )
    history = (await view(intake, accepted["application_id"]))["history"]
    assert [(h["status"], h["changed_by"]) for h in history] == [
        ("submitted", "counter"),
        ("forwarded", "system"),
        ("ready_for_pickup", "system"),
        ("completed", "ani"),
    ]


async def test_routing_local_and_refused_with_its_reason_and_other_sites_decisions_ignored(
    intake: Intake,
) -> None:
    local, refused, elsewhere = [await submit(intake) for _ in range(3)]
    await intake.handle(routed(intake, local, "local"))
    await intake.handle(
        routed(intake, refused, "refused", refusal_reason="quota_full", reason_text="Kuota penuh 30 hari")
    )
    await intake.handle(
        routed(intake, elsewhere, "local").model_copy(update={"origin_site_id": "other-site"})
    )
    assert (await view(intake, local["application_id"]))["status"] == "routed_local"
    refused_view = await view(intake, refused["application_id"])
    assert (refused_view["status"], refused_view["history"][-1]["note"]) == ("refused", "Kuota penuh 30 hari")
    assert (await view(intake, elsewhere["application_id"]))["status"] == "submitted"


async def test_an_event_the_status_does_not_allow_changes_nothing_and_does_not_fail(intake: Intake) -> None:
    accepted = await submit(intake)
    assert (
        await post(intake, accepted["application_id"], "status", {"status": "rejected", "note": "tidak sah"})
    ).status_code == 200
    before = await intake.events()
    await intake.handle(routed(intake, accepted, "local"))  # too late: it is final
    await intake.handle(
        AppointmentMissed(
            application_id=uuid4(),  # unknown here
            tracking_code="XXXX-XXXX",
            origin_site_id=intake.site_id,
            handling_site_id="mpp-tenggarong",
            service_code=SERVICE,
            reason="no_show",
            appointment=appointment("mpp-tenggarong"),
        )
    )
    assert await intake.events() == before
    assert (await view(intake, accepted["application_id"]))["status"] == "rejected"


async def test_cancel_and_reschedule_a_forwarded_application(intake: Intake) -> None:
    accepted = await submit(intake, PASSPORT)
    application_id = accepted["application_id"]
    assert (
        await post(intake, application_id, "reschedule", {"reason": "sakit"})
    ).status_code == 409  # no slot yet
    await intake.handle(routed(intake, accepted, "central", appointment=appointment("mpp-tenggarong")))

    asked = await post(intake, application_id, "reschedule", {"not_before": "2030-01-02", "reason": "sakit"})
    assert asked.status_code == 202, asked.text
    assert asked.json() == {"application_id": application_id, "change": "reschedule", "status": "forwarded"}
    request = (await intake.events())[-1]
    assert (request["type"], request["not_before"], request["requested_by"]) == (
        "appointment.change_requested",
        "2030-01-02",
        "ani",
    )

    later = appointment("mpp-tenggarong", days=5)
    event = dict(
        application_id=application_id,
        tracking_code=accepted["tracking_code"],
        origin_site_id=intake.site_id,
        handling_site_id="mpp-tenggarong",
        service_code=PASSPORT,
    )
    await intake.handle(
        AppointmentRescheduled(
            **event, reason="rescheduled", previous=appointment("mpp-tenggarong"), appointment=later
        )
    )
    seen = await view(intake, application_id)
    assert seen["status"] == "forwarded"
    assert datetime.fromisoformat(seen["appointment"]["starts_at"]) == later.starts_at

    cancelled = await post(intake, application_id, "cancel", {"reason": "tidak jadi"}, supervisor=True)
    assert cancelled.status_code == 200, cancelled.text
    last = (await intake.events())[-1]
    assert (last["status"], last["previous_status"], last["note"], last["changed_by"]) == (
        "cancelled",
        "forwarded",
        "tidak jadi",
        "sari",
    )
    again = await post(intake, application_id, "cancel", {"reason": "tidak jadi"}, supervisor=True)
    assert again.status_code == 409 and "none (it is final)" in again.text
    # Routing's own answer to the cancel changes nothing more.
    await intake.handle(AppointmentCancelled(**event, reason="cancelled", previous=later))
    assert len(statuses(await intake.events(), application_id)) == 2


# ---- at the central site -----------------------------------------------------------------------------------


async def test_an_arrival_is_expected_checked_in_with_a_ticket_worked_and_sent_home(intake: Intake) -> None:
    case = forwarded_here(intake)
    await intake.handle(case)
    await intake.handle(case)  # the same case twice (a replay): one arrival
    day = case.appointment.starts_at.date().isoformat()  # type: ignore[union-attr]
    arrivals = await intake.client.get("/arrivals", params={"day": day}, headers=intake.operator())
    assert arrivals.status_code == 200, arrivals.text
    [arrival] = arrivals.json()
    assert (
        arrival["status"],
        arrival["origin_site_id"],
        arrival["agency_code"],
        arrival["queue_ticket"],
    ) == (
        "expected",
        ORIGIN,
        "IMIGRASI",
        None,
    )
    other_agency = await intake.client.get(
        "/arrivals", params={"day": day, "agency_code": "DUKCAPIL"}, headers=intake.operator()
    )
    assert other_agency.json() == []

    seen = await view(intake, case.application_id)
    assert (seen["applicant_name"], seen["nik_last4"], seen["phone_last4"]) == ("Rahmat", None, "2001")
    checked_in = await post(intake, case.application_id, "check-in")
    assert checked_in.status_code == 200, checked_in.text
    assert (checked_in.json()["status"], checked_in.json()["queue_ticket"]) == ("checked_in", "IMI-001")
    assert (await post(intake, case.application_id, "check-in")).json()["queue_ticket"] == "IMI-001"
    assert (await post(intake, case.application_id, "status", {"status": "in_progress"})).status_code == 200
    ready = await post(intake, case.application_id, "ready", {"note": "paspor jadi"})
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "sent_to_origin"

    [returned] = await intake.outbox(f"site.{ORIGIN}.inbox.v1")
    assert (returned["type"], returned["application_id"], returned["handling_site_id"], returned["note"]) == (
        "result.returned",
        str(case.application_id),
        intake.site_id,
        "paspor jadi",
    )
    assert statuses(await intake.events(), case.application_id) == [
        (None, "expected"),
        ("expected", "checked_in"),
        ("checked_in", "in_progress"),
        ("in_progress", "sent_to_origin"),
    ]
    changed = next(e for e in await intake.events() if e.get("status") == "sent_to_origin")
    assert changed["origin_site_id"] == ORIGIN and changed["site_id"] == intake.site_id


async def test_a_product_collected_where_it_is_made_is_ready_there(intake: Intake) -> None:
    case = forwarded_here(intake, SIM)
    await intake.handle(case)
    await post(intake, case.application_id, "check-in")
    ready = await post(intake, case.application_id, "status", {"status": "ready_for_pickup"})
    assert ready.json()["status"] == "ready_for_pickup"
    assert await intake.outbox(f"site.{ORIGIN}.inbox.v1") == []


async def test_results_waiting_for_pickup_are_listed_however_long_ago_they_were_submitted(
    intake: Intake,
) -> None:
    old, recent, in_progress = [await submit(intake) for _ in range(3)]
    for accepted in (old, recent):
        ready = await post(intake, accepted["application_id"], "status", {"status": "ready_for_pickup"})
        assert ready.status_code == 200, ready.text
    await post(intake, in_progress["application_id"], "status", {"status": "in_progress"})
    async with intake.context.pool.acquire() as conn:  # a product that took five weeks
        await conn.execute(
            "UPDATE application SET ticket_day = ticket_day - 35, updated_at = now() - interval '2 days'"
            " WHERE id = $1",
            UUID(old["application_id"]),
        )

    async def listed(path: str, token: str | None = None, **params: str) -> list[str]:
        headers = intake.operator(token) if token else intake.operator()
        answer = await intake.client.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return [a["application_id"] for a in answer.json()]

    assert await listed("/pickups") == [
        old["application_id"],
        recent["application_id"],
    ]  # longest waiting first
    assert await listed("/queue", status="ready_for_pickup") == [recent["application_id"]]  # today's only
    assert await listed("/pickups", OTHER_SITE_TOKEN) == []


async def test_arrivals_are_moved_given_back_or_missed(intake: Intake) -> None:
    moved, given_back, missed = forwarded_here(intake), forwarded_here(intake), forwarded_here(intake)
    for case in (moved, given_back, missed):
        await intake.handle(case)

    def about(case: ApplicationForwarded) -> dict[str, Any]:
        return dict(
            application_id=case.application_id,
            tracking_code=case.tracking_code,
            origin_site_id=ORIGIN,
            handling_site_id=intake.site_id,
            service_code=PASSPORT,
        )

    later = appointment(intake.site_id, days=3)
    await intake.handle(
        AppointmentRescheduled(
            **about(moved), reason="rescheduled", previous=moved.appointment, appointment=later
        )
    )
    await intake.handle(
        AppointmentCancelled(**about(given_back), reason="cancelled", previous=given_back.appointment)
    )
    await intake.handle(AppointmentMissed(**about(missed), reason="no_show", appointment=missed.appointment))

    on_day = await intake.client.get(
        "/arrivals", params={"day": later.starts_at.date().isoformat()}, headers=intake.operator()
    )
    assert [a["application_id"] for a in on_day.json()] == [str(moved.application_id)]
    assert (await view(intake, given_back.application_id))["status"] == "cancelled"
    assert (await view(intake, missed.application_id))["status"] == "no_show"
    # Booked again after the no-show: expected once more.
    await intake.handle(
        AppointmentRescheduled(
            **about(missed), reason="rescheduled", previous=missed.appointment, appointment=later
        )
    )
    assert (await view(intake, missed.application_id))["status"] == "expected"
    assert (await post(intake, given_back.application_id, "check-in")).status_code == 409


# ---- the operator's day ------------------------------------------------------------------------------------


async def test_the_queue_has_tickets_per_agency_in_order_and_online_ones_get_theirs_on_arrival(
    intake: Intake,
) -> None:
    first = await submit(intake)
    passport = await submit(intake, PASSPORT)
    second = await submit(intake, channel="kiosk")
    online = await submit(intake, channel="online")
    assert online["status"] == "awaiting_verification"
    refused = await post(intake, online["application_id"], "check-in")  # nothing to serve before the code
    assert refused.status_code == 409, refused.text
    await intake.verify(online["application_id"])
    assert [a["queue_ticket"] for a in (first, passport, second, online)] == [
        "DUK-001",
        "IMI-001",
        "DUK-002",
        None,
    ]

    queue = (await intake.client.get("/queue", headers=intake.operator())).json()
    assert [q["queue_ticket"] for q in queue] == ["DUK-001", "IMI-001", "DUK-002"]
    arrived = await post(intake, online["application_id"], "check-in")
    assert arrived.json()["queue_ticket"] == "DUK-003" and arrived.json()["status"] == "submitted"

    async def queue_of(**params: str) -> list[str]:
        answer = await intake.client.get("/queue", params=params, headers=intake.operator())
        assert answer.status_code == 200, answer.text
        return [q["queue_ticket"] for q in answer.json()]

    assert await queue_of(agency_code="IMIGRASI") == ["IMI-001"]
    assert await queue_of(channel="online") == ["DUK-003"]
    assert await queue_of(channel="kiosk", agency_code="DUKCAPIL") == ["DUK-002"]
    assert (
        await post(intake, first["application_id"], "status", {"status": "in_progress"})
    ).status_code == 200
    assert await queue_of(status="in_progress") == ["DUK-001"]
    assert await queue_of(day="2020-01-01") == []
    assert (
        await intake.client.get("/queue", params={"status": "flying"}, headers=intake.operator())
    ).status_code == 422


async def test_search_finds_by_tracking_code_ticket_or_name_and_another_sites_operator_finds_nothing(
    intake: Intake,
) -> None:
    accepted = await submit(intake)
    other = await submit(intake, applicant={**APPLICANT, "name": "Siti 100%_Aminah"})

    async def found(q: str, token: str | None = None) -> list[str]:
        headers = intake.operator(token) if token else intake.operator()
        answer = await intake.client.get("/search", params={"q": q}, headers=headers)
        assert answer.status_code == 200, answer.text
        return [a["application_id"] for a in answer.json()]

    assert await found(accepted["tracking_code"].lower()) == [accepted["application_id"]]
    assert await found(accepted["queue_ticket"]) == [accepted["application_id"]]
    assert set(await found("rahmat")) == {accepted["application_id"]}
    assert await found("100%_") == [other["application_id"]]  # literally, not as wildcards
    assert await found("%%") == []

    # A valid credential of another site: nothing here exists for it, and it cannot tell.
    assert await found(accepted["tracking_code"], OTHER_SITE_TOKEN) == []
    assert await found(accepted["queue_ticket"], OTHER_SITE_TOKEN) == []
    for response in (
        await intake.client.get(
            f"/applications/{accepted['application_id']}", headers=intake.operator(OTHER_SITE_TOKEN)
        ),
        await intake.client.post(
            f"/applications/{accepted['application_id']}/status",
            json={"status": "in_progress"},
            headers=intake.operator(OTHER_SITE_TOKEN),
        ),
        await intake.client.get(f"/applications/{uuid4()}", headers=intake.operator()),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["fields"] == [
            {"field": "application_id", "reason": "unknown at this site"}
        ]
    assert (await intake.client.get("/queue", headers=intake.operator(OTHER_SITE_TOKEN))).json() == []


# ---- the checklist -----------------------------------------------------------------------------------------


async def test_missing_mandatory_requirements_are_422_listing_them(intake: Intake) -> None:
    response = await intake.client.post(
        "/applications",
        json={
            "service_code": CHECKED,
            "applicant": APPLICANT,
            "checklist": [{"requirement": "Pas foto", "provided": "digital"}, {"requirement": "KTP-el"}],
        },
        headers=intake.operator(),
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"] == [
        {"field": "checklist", "reason": "missing: KTP-el"},
        {"field": "checklist", "reason": "missing: Kartu Keluarga"},
    ]
    unknown = await intake.client.post(
        "/applications",
        json={
            "service_code": CHECKED,
            "applicant": APPLICANT,
            "checklist": [{"requirement": "Surat X", "provided": "copy"}],
            "accept_incomplete": True,
        },
        headers=intake.operator(),
    )
    assert {"field": "checklist", "reason": "not a requirement of this service: Surat X"} in unknown.json()[
        "error"
    ]["fields"]
    online = await intake.client.post(
        "/applications",
        json={
            "service_code": CHECKED,
            "applicant": APPLICANT,
            "channel": "online",
            "accept_incomplete": True,
        },
        headers=intake.operator(),
    )
    assert {"field": "accept_incomplete", "reason": "only at the counter or kiosk"} in online.json()["error"][
        "fields"
    ]
    assert await intake.events() == []


async def test_a_complete_checklist_is_accepted_with_its_document_references(intake: Intake) -> None:
    document = {"id": "scan/2026/kk-1", "sha256": "a" * 64}
    accepted = await submit(
        intake,
        CHECKED,
        checklist=[
            {"requirement": "KTP-el", "provided": "original"},
            {"requirement": "Kartu Keluarga", "provided": "digital", "document": document},
        ],
    )
    assert (accepted["status"], accepted["missing"]) == ("submitted", [])
    assert "scan/2026/kk-1" not in str(await intake.events())  # documents are referenced here, never sent


async def test_the_operator_accepts_it_incomplete_and_the_event_names_what_is_missing(intake: Intake) -> None:
    accepted = await submit(
        intake, CHECKED, checklist=[{"requirement": "KTP-el", "provided": "original"}], accept_incomplete=True
    )
    assert (accepted["status"], accepted["missing"]) == ("incomplete", ["Kartu Keluarga"])
    submitted, incomplete = await intake.events()
    assert submitted["type"] == "application.submitted"
    assert (incomplete["status"], incomplete["previous_status"], incomplete["note"]) == (
        "incomplete",
        "submitted",
        "Belum lengkap: Kartu Keluarga",
    )
    await intake.handle(routed(intake, accepted, "local"))
    assert (await view(intake, accepted["application_id"]))["status"] == "routed_local"


# ---- public tracking and concurrency -----------------------------------------------------------------------


async def test_tracking_shows_history_next_step_and_appointment_but_nothing_personal(intake: Intake) -> None:
    accepted = await submit(intake, PASSPORT)
    await intake.handle(routed(intake, accepted, "central", appointment=appointment("mpp-tenggarong")))
    response = await intake.client.post(
        "/applications/track", json={"tracking_code": accepted["tracking_code"], "phone_last4": "2001"}
    )
    assert response.status_code == 200, response.text
    tracking = response.json()
    assert [step["status"] for step in tracking["history"]] == ["submitted", "forwarded"]
    assert tracking["next_step"].startswith("Datang ke MPP Tenggarong sesuai jadwal")
    assert tracking["appointment"]["bring"] == ["KTP-el asli", "Kartu Keluarga asli"]
    for secret in (APPLICANT["nik"], "Rahmat", "Hidayat", "081350002001", "6281350002001"):
        assert secret not in response.text


async def test_twenty_concurrent_submits_with_one_key_make_one_application(intake: Intake) -> None:
    answers = await asyncio.gather(
        *(
            intake.client.post(
                "/applications",
                json={"service_code": SERVICE, "applicant": APPLICANT},
                headers={"Idempotency-Key": "same-key", **intake.operator()},
            )
            for _ in range(20)
        )
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["application_id"] for a in answers}) == 1
    async with intake.context.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM application") == 1
    assert len(await intake.events()) == 1
    assert UUID(answers[0].json()["application_id"])
