"""Routing's appointment events and intake's status changes through notify's handlers, on the real database: the
SMS each one asks for is stored once, sent once, and a replay of the same events sends nothing more."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from mpp_contracts.intake import ApplicationStatusChanged
from mpp_contracts.routing import (
    Appointment,
    AppointmentCancelled,
    AppointmentMissed,
    AppointmentRescheduled,
)
from mpp_kit.sealing import PHONE as PHONE_PURPOSE
from mpp_kit.sealing import seal
from notify.handlers import on_application_event, on_routing_decision
from tests.notify.conftest import CONTACT_KEY, number

WITA = ZoneInfo("Asia/Makassar")
PHONE = number("0001")  # the sandbox delivers it
APPLICATION = uuid4()
SLOT = Appointment(
    site_id="mpp-tenggarong",
    site_name="MPP Kukar Tenggarong",
    starts_at=datetime(2026, 12, 2, 8, 0, tzinfo=WITA),
    bring=("KTP-el", "Kartu Keluarga"),
)
NEXT_SLOT = SLOT.model_copy(update={"starts_at": datetime(2026, 12, 9, 10, 30, tzinfo=WITA)})


def about(**changes: Any) -> dict[str, Any]:
    return {
        "application_id": APPLICATION,
        "tracking_code": "9E22-F8SH",
        "origin_site_id": "tabang",
        "origin_site_name": "Mini MPP Kecamatan Tabang",
        "handling_site_id": "mpp-tenggarong",
        "service_code": "IMIGRASI-PASPOR-BARU",
        "service_name": "Paspor Biasa",
        "applicant_first_name": "Rahmat",
        "sealed_phone": seal(PHONE, CONTACT_KEY, purpose=PHONE_PURPOSE, bound_to=APPLICATION),
        **changes,
    }


def appointment_events(**changes: Any) -> list[Any]:
    """One of each: moved, not moved (no free slot), given back, missed."""
    return [
        AppointmentRescheduled(
            **about(reason="rescheduled", previous=SLOT, appointment=NEXT_SLOT, **changes)
        ),
        AppointmentRescheduled(
            **about(
                reason="no_slot_to_reschedule", previous=NEXT_SLOT, retry_from=date(2027, 1, 1), **changes
            )
        ),
        AppointmentCancelled(**about(reason="cancelled", previous=NEXT_SLOT, **changes)),
        AppointmentMissed(**about(reason="no_show", appointment=SLOT, **changes)),
    ]


def status_changed(status: str, note: str | None = None) -> ApplicationStatusChanged:
    return ApplicationStatusChanged(
        application_id=APPLICATION,
        tracking_code="9E22-F8SH",
        site_id="tabang",
        site_name="Mini MPP Kecamatan Tabang",
        service_code="IMIGRASI-PASPOR-BARU",
        service_name="Paspor Biasa",
        status=status,
        note=note,
        applicant_first_name="Rahmat",
        sealed_phone=seal(PHONE, CONTACT_KEY, purpose=PHONE_PURPOSE, bound_to=APPLICATION),
    )


async def handle(stack: Any, *events: Any) -> None:
    """Run notify's handler of each event's topic, each in its own transaction (as its consumer would)."""
    for event in events:
        async with stack.pool.acquire() as conn, conn.transaction():
            if isinstance(event, ApplicationStatusChanged):
                await on_application_event(conn, event, stack.context)
            else:
                await on_routing_decision(conn, event, stack.context)


async def messages(stack: Any) -> list[Any]:
    return list(await stack.pool.fetch("SELECT * FROM sms_message ORDER BY created_at, template"))


async def test_each_appointment_event_stores_its_sms_once(stack: Any) -> None:
    events = appointment_events()
    await handle(stack, *events)
    rows = await messages(stack)
    by_event = {row["event_id"]: row for row in rows}
    assert len(rows) == 4 and set(by_event) == {e.event_id for e in events}
    assert [by_event[e.event_id]["template"] for e in events] == [
        "jadwal_dipindah",
        "jadwal_tetap",
        "jadwal_dibatalkan",
        "tidak_hadir",
    ]
    for row in rows:
        assert row["status"] == "created" and row["segments"] == 1 and row["template_version"] == 1
        assert row["phone_e164"] == PHONE and row["application_id"] == APPLICATION
        assert await stack.published(row["id"]) == ["created"]
    bodies = [by_event[e.event_id]["body"] for e in events]
    assert bodies[0].startswith("Yth. Rahmat, jadwal dipindah: Rabu, 9 Des 2026 jam 10.30 WITA di MPP Kukar")
    assert "tetap Rabu, 9 Des 2026" in bodies[1] and "Coba lagi mulai Jumat, 1 Jan 2027." in bodies[1]
    assert "jadwal Rabu, 9 Des 2026 jam 10.30 WITA" in bodies[2] and bodies[2].endswith("dibatalkan.")
    assert bodies[3].endswith("Minta jadwal baru di Mini MPP Kecamatan Tabang.")

    await handle(stack, *events)  # replayed past the inbox: the (event, template) key holds
    assert [row["id"] for row in await messages(stack)] == [row["id"] for row in rows]


async def test_declined_sms_for_appointment_events_is_recorded_and_never_sent(stack: Any) -> None:
    await handle(stack, *appointment_events(sms_consent=False))
    rows = await messages(stack)
    assert len(rows) == 4 and {row["status"] for row in rows} == {"declined"}
    assert {row["body"] for row in rows} == {None} and {row["phone_e164"] for row in rows} == {None}
    assert await stack.dispatcher().dispatch_once() == 0


async def test_only_incomplete_ready_and_rejected_statuses_are_texted(stack: Any) -> None:
    texted = [
        status_changed("incomplete", "Belum lengkap: Kartu Keluarga, Surat pengantar RT"),
        status_changed("ready_for_pickup"),
        status_changed("rejected", "foto buram"),
    ]
    silent = [
        status_changed(status, "catatan")
        for status in (
            "submitted",
            "routed_local",
            "forwarded",
            "refused",
            "expected",
            "checked_in",
            "in_progress",
            "sent_to_origin",
            "completed",
            "cancelled",
            "no_show",
        )
    ]
    await handle(stack, *texted, *silent)
    rows = await messages(stack)
    assert sorted(row["template"] for row in rows) == ["belum_lengkap", "ditolak", "siap_diambil"]
    incomplete = next(row for row in rows if row["template"] == "belum_lengkap")
    assert incomplete["body"] == (
        "Yth. Rahmat, permohonan Paspor Biasa 9E22-F8SH belum lengkap: Kartu Keluarga, Surat pengantar RT. "
        "Lengkapi di Mini MPP Kecamatan Tabang."
    )
    await handle(stack, *texted, *silent)
    assert len(await messages(stack)) == 3


async def test_replayed_events_send_nothing_twice(stack: Any) -> None:
    events = [
        status_changed("incomplete", "Belum lengkap: Kartu Keluarga"),
        *appointment_events(),
        status_changed("no_show"),
    ]
    await handle(stack, *events)
    dispatcher = stack.dispatcher()
    assert await dispatcher.dispatch_once() == 5
    await stack.reports_done()
    assert {row["status"] for row in await messages(stack)} == {"delivered"}

    await handle(stack, *events)  # the same events again, e.g. topics replayed from the start
    assert await dispatcher.dispatch_once() == 0
    sent = await stack.sandbox_messages(PHONE)
    assert len(sent) == 5 and len({m["body"] for m in sent}) == 5
