"""Which SMS each event gets (the tables in notify.domain) and the texts built from realistic events: one GSM-7
segment, no digit run, the values the applicant needs."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, get_args
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from mpp_contracts.intake import ApplicationStatus, ApplicationStatusChanged
from mpp_contracts.routing import (
    ApplicationRouted,
    Appointment,
    AppointmentCancelled,
    AppointmentMissed,
    AppointmentRescheduled,
    DecisionEvent,
)
from notify.domain import DECISION_SMS, STATUS_SMS, VERIFICATION_SMS, DecisionCase, decision_case, may_text
from notify.gsm7 import is_gsm7
from notify.handlers import list_variants, missing_items, sms_for_decision, sms_for_status
from notify.templates import TEMPLATES, render

WITA = ZoneInfo("Asia/Makassar")
PASSPORT = "Penerbitan Paspor Biasa Baru 48 Halaman"
PASSPORT_ORIGINALS = (
    "KTP-el",
    "Kartu Keluarga",
    "Akta kelahiran, buku nikah atau ijazah (memuat nama, tempat dan tanggal lahir)",
)
OLD_SLOT = Appointment(
    site_id="mpp-tenggarong",
    site_name="MPP Kukar Tenggarong",
    starts_at=datetime(2026, 12, 2, 8, 0, tzinfo=WITA),
    bring=PASSPORT_ORIGINALS,
)
NEW_SLOT = OLD_SLOT.model_copy(update={"starts_at": datetime(2026, 12, 9, 10, 30, tzinfo=WITA)})


def about(**changes: Any) -> dict[str, Any]:
    """What every appointment event carries (routing fills it from the application)."""
    return {
        "application_id": uuid4(),
        "tracking_code": "9E22-F8SH",
        "origin_site_id": "tabang",
        "origin_site_name": "Mini MPP Kecamatan Tabang",
        "handling_site_id": "mpp-tenggarong",
        "service_code": "IMIGRASI-PASPOR-BARU",
        "service_name": PASSPORT,
        "applicant_first_name": "Rahmat",
        "sealed_phone": "v1.x",
        **changes,
    }


def moved() -> AppointmentRescheduled:
    return AppointmentRescheduled(**about(reason="rescheduled", previous=OLD_SLOT, appointment=NEW_SLOT))


def not_moved(retry_from: date | None = date(2027, 1, 1)) -> AppointmentRescheduled:
    return AppointmentRescheduled(
        **about(reason="no_slot_to_reschedule", previous=OLD_SLOT, retry_from=retry_from)
    )


def cancelled() -> AppointmentCancelled:
    return AppointmentCancelled(**about(reason="cancelled", previous=OLD_SLOT))


def missed() -> AppointmentMissed:
    return AppointmentMissed(**about(reason="no_show", appointment=OLD_SLOT))


def routed(outcome: str, **changes: Any) -> ApplicationRouted:
    values = about(outcome=outcome, **changes)
    del values["handling_site_id"]
    return ApplicationRouted(**values)


def status_changed(status: str, note: str | None = None, **changes: Any) -> ApplicationStatusChanged:
    values: dict[str, Any] = {
        "application_id": uuid4(),
        "tracking_code": "9E22-F8SH",
        "site_id": "tabang",
        "site_name": "Mini MPP Kecamatan Tabang",
        "service_code": "DUKCAPIL-AKTA-LAHIR",
        "service_name": "Penerbitan Akta Kelahiran",
        "status": status,
        "note": note,
        "applicant_first_name": "Siti",
        "sealed_phone": "v1.x",
    }
    return ApplicationStatusChanged(**{**values, **changes})


def text_of(choice: tuple[str, dict[str, Any]] | None) -> tuple[str, str]:
    assert choice is not None
    template, variables = choice
    sms = render(template, variables)
    assert sms.segments == 1, sms.body
    assert sms.encoding == "GSM-7" and is_gsm7(sms.body) and len(sms.body) <= 160
    assert not re.search(r"\d(?:[ .\-]?\d){9,}", sms.body)  # no NIK, no phone number
    return template, sms.body


# ---- the decision tables --------------------------------------------------------------------------------------


def test_every_status_has_a_decision_and_only_three_are_texted() -> None:
    assert set(STATUS_SMS) == set(get_args(ApplicationStatus))
    assert {s: t for s, t in STATUS_SMS.items() if t} == {
        "incomplete": "belum_lengkap",
        "ready_for_pickup": "siap_diambil",
        "rejected": "ditolak",
    }


@pytest.mark.parametrize("status", get_args(ApplicationStatus))
def test_the_consumer_skips_exactly_the_status_changes_that_are_never_texted(status: str) -> None:
    """Skipped events never reach the handler: one that could text must never be skipped."""
    event = status_changed(status, note="KTP")
    assert may_text(event) == (sms_for_status(event) is not None or STATUS_SMS[event.status] is not None)


def test_every_decision_case_has_a_template_and_every_template_is_used() -> None:
    assert set(DECISION_SMS) == set(get_args(DecisionCase))
    used = set(DECISION_SMS.values()) | {t for t in STATUS_SMS.values() if t} | {VERIFICATION_SMS}
    assert used == set(TEMPLATES)


@pytest.mark.parametrize(
    ("event", "case"),
    [
        (routed("local", expected_completion=date(2026, 12, 7)), "received"),
        (routed("central", appointment=OLD_SLOT), "forwarded"),
        (
            routed(
                "refused",
                refusal_reason="quota_full",
                full_site_name="MPP Kukar Tenggarong",
                retry_from=date(2027, 1, 1),
            ),
            "quota_full",
        ),
        (routed("refused", refusal_reason="quota_full"), "not_available"),  # incomplete: no vague date sent
        (routed("refused", refusal_reason="not_offered"), "not_available"),
        (routed("refused", refusal_reason="unknown_service"), "not_available"),
        (moved(), "moved"),
        (not_moved(), "not_moved"),
        (cancelled(), "cancelled"),
        (missed(), "missed"),
    ],
)
def test_decision_case_of_each_event(event: Any, case: str) -> None:
    assert decision_case(event) == case


def test_every_event_of_the_decision_topic_is_read_by_type() -> None:
    # Before, notify read this topic as ApplicationRouted only: the appointment events went to its DLQ.
    adapter: TypeAdapter[Any] = TypeAdapter(DecisionEvent)
    for event in (routed("local"), moved(), not_moved(), cancelled(), missed()):
        assert type(adapter.validate_json(event.model_dump_json())) is type(event)


# ---- routing's appointment events -----------------------------------------------------------------------------


def test_a_moved_appointment_gives_the_new_day_time_and_place() -> None:
    assert text_of(sms_for_decision(moved())) == (
        "jadwal_dipindah",
        f"Jadwal dipindah: Rabu, 9 Des 2026 jam 10.30 WITA di MPP Kukar Tenggarong untuk {PASSPORT} 9E22-F8SH. "
        "Bawa dokumen asli.",
    )


def test_a_moved_appointment_lists_what_to_bring_when_it_fits() -> None:
    event = moved().model_copy(update={"service_name": "Paspor", "applicant_first_name": "Rahmat"})
    _, body = text_of(sms_for_decision(event))
    assert body == (
        "Yth. Rahmat, jadwal dipindah: Rabu, 9 Des 2026 jam 10.30 WITA di MPP Kukar Tenggarong untuk Paspor "
        "9E22-F8SH. Bawa KTP-el, Kartu Keluarga dan dokumen asli lain."
    )


def test_no_free_slot_keeps_the_old_appointment_and_says_when_to_try_again() -> None:
    assert text_of(sms_for_decision(not_moved())) == (
        "jadwal_tetap",
        f"Jadwal {PASSPORT} 9E22-F8SH tetap Rabu, 2 Des 2026 di MPP Kukar Tenggarong; yang lain penuh. "
        "Coba lagi mulai Jumat, 1 Jan 2027.",
    )


def test_no_free_slot_without_a_day_to_try_again_fails_closed() -> None:
    choice = sms_for_decision(not_moved(retry_from=None))
    assert choice is not None and choice[1]["mulai"] == ""


def test_a_cancelled_appointment_is_confirmed_in_one_short_text() -> None:
    assert text_of(sms_for_decision(cancelled())) == (
        "jadwal_dibatalkan",
        f"Yth. Rahmat, jadwal Rabu, 2 Des 2026 jam 08.00 WITA di MPP Kukar Tenggarong untuk {PASSPORT} 9E22-F8SH "
        "dibatalkan.",
    )


def test_a_missed_appointment_sends_the_applicant_back_to_the_origin_site() -> None:
    event = missed().model_copy(update={"service_name": "Paspor Biasa"})
    assert text_of(sms_for_decision(event)) == (
        "tidak_hadir",
        "Yth. Rahmat, Anda tidak hadir Rabu, 2 Des 2026 di MPP Kukar Tenggarong untuk Paspor Biasa 9E22-F8SH. "
        "Minta jadwal baru di Mini MPP Kecamatan Tabang.",
    )


def test_appointment_texts_never_carry_more_than_the_first_name() -> None:
    for event in (moved(), not_moved(), cancelled(), missed()):
        event = event.model_copy(update={"service_name": "KTP-el", "applicant_first_name": "Siti Aminah"})
        _, body = text_of(sms_for_decision(event))
        assert "Aminah" not in body and "v1.x" not in body


# ---- intake's status changes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [s for s, t in STATUS_SMS.items() if t is None])
def test_statuses_texted_elsewhere_or_internal_send_nothing(status: str) -> None:
    assert sms_for_status(status_changed(status, note="catatan")) is None


def test_ready_for_pickup_names_the_site_where_it_is_collected() -> None:
    assert text_of(sms_for_status(status_changed("ready_for_pickup"))) == (
        "siap_diambil",
        "Yth. Siti, dokumen Penerbitan Akta Kelahiran Anda (kode 9E22-F8SH) sudah selesai. "
        "Silakan ambil di Mini MPP Kecamatan Tabang.",
    )


def test_rejected_gives_the_note() -> None:
    template, body = text_of(sms_for_status(status_changed("rejected", note="foto buram")))
    assert template == "ditolak" and "ditolak: foto buram." in body


def test_incomplete_names_what_is_missing_and_where_to_bring_it() -> None:
    event = status_changed("incomplete", note="Belum lengkap: Kartu Keluarga, Surat pengantar RT")
    assert text_of(sms_for_status(event)) == (
        "belum_lengkap",
        "Yth. Siti, permohonan Penerbitan Akta Kelahiran 9E22-F8SH belum lengkap: Kartu Keluarga, Surat "
        "pengantar RT. Lengkapi di Mini MPP Kecamatan Tabang.",
    )


def test_a_long_list_of_missing_items_is_shortened_to_one_segment() -> None:
    note = (
        "Belum lengkap: Surat keterangan lahir dari dokter/bidan/penolong kelahiran (asli), Kartu Keluarga, "
        "Buku nikah atau akta perkawinan orang tua (dilegalisir), KTP-el kedua orang tua"
    )
    template, body = text_of(sms_for_status(status_changed("incomplete", note=note)))
    assert template == "belum_lengkap"
    assert "belum lengkap: 4 persyaratan wajib. Lengkapi di Mini MPP Kecamatan Tabang." in body
    shorter = note.replace("dari dokter/bidan/penolong kelahiran ", "")
    _, body = text_of(sms_for_status(status_changed("incomplete", note=shorter)))
    assert "belum lengkap: Surat keterangan lahir dan persyaratan lain. Lengkapi" in body


def test_incomplete_without_missing_items_fails_closed() -> None:
    for note in (None, "", "Belum lengkap: "):
        choice = sms_for_status(status_changed("incomplete", note=note))
        assert choice is not None and choice[1]["kurang"] == ""


def test_missing_items_are_read_from_the_note_keeping_commas_inside_parentheses() -> None:
    note = "Belum lengkap: KK, Surat pengantar (RT, RW), Akta"
    assert missing_items(note) == ["KK", "Surat pengantar (RT, RW)", "Akta"]
    assert list_variants(missing_items(note), others="persyaratan lain") == [
        "KK, Surat pengantar (RT, RW), Akta",
        "KK, Surat pengantar, Akta",
        "KK, Surat pengantar dan persyaratan lain",
        "KK dan persyaratan lain",
    ]
