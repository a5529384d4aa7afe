"""The appointment SMS of flow 2 fits one segment with the real catalogue's longest wording."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4
from zoneinfo import ZoneInfo

from mpp_contracts.routing import ApplicationRouted, Appointment
from notify.handlers import bring_variants, sms_for_routing
from notify.templates import render

PASSPORT_ORIGINALS = (
    "KTP-el",
    "Kartu Keluarga",
    "Akta kelahiran, buku nikah atau ijazah (memuat nama, tempat dan tanggal lahir)",
)


def routed(bring: tuple[str, ...]) -> ApplicationRouted:
    return ApplicationRouted(
        application_id=uuid4(),
        tracking_code="9E22-F8SH",
        origin_site_id="tabang",
        origin_site_name="Mini MPP Kecamatan Tabang",
        service_code="IMIGRASI-PASPOR-BARU",
        service_name="Penerbitan Paspor Biasa Baru 48 Halaman",
        outcome="central",
        handling_site_id="mpp-tenggarong",
        central_only_reason="biometrics",
        applicant_first_name="Rahmat",
        sealed_phone="v1.x",
        appointment=Appointment(
            site_id="mpp-tenggarong",
            site_name="MPP Kukar Tenggarong",
            starts_at=datetime(2026, 12, 2, 8, 0, tzinfo=ZoneInfo("Asia/Makassar")),
            bring=bring,
        ),
    )


def test_what_to_bring_is_shortened_only_as_far_as_one_segment_needs() -> None:
    template, variables = sms_for_routing(routed(PASSPORT_ORIGINALS)) or ("", {})
    sms = render(template, variables)
    assert sms.segments == 1
    assert sms.body == (
        "Datang Rabu, 2 Des 2026 jam 08.00 WITA ke MPP Kukar Tenggarong untuk Penerbitan Paspor Biasa Baru "
        "48 Halaman 9E22-F8SH. Bawa KTP-el dan dokumen asli lain."
    )


def test_a_short_list_is_sent_whole() -> None:
    template, variables = sms_for_routing(routed(("KTP-el", "Paspor lama"))) or ("", {})
    assert variables["bawa"] == "KTP-el, Paspor lama"
    assert render(template, variables).segments == 1


def test_bring_variants_go_from_fullest_to_shortest_without_repeats() -> None:
    assert bring_variants(PASSPORT_ORIGINALS) == [
        "KTP-el, Kartu Keluarga, Akta kelahiran, buku nikah atau ijazah (memuat nama, tempat dan tanggal lahir)",
        "KTP-el, Kartu Keluarga, Akta kelahiran, buku nikah atau ijazah",
        "KTP-el, Kartu Keluarga dan dokumen asli lain",
        "KTP-el dan dokumen asli lain",
    ]
    assert bring_variants(()) == ["KTP-el asli"]


def test_a_full_quota_horizon_is_texted_with_the_day_to_try_again() -> None:
    from datetime import date

    refused = routed(PASSPORT_ORIGINALS).model_copy(
        update={
            "outcome": "refused",
            "refusal_reason": "quota_full",
            "appointment": None,
            "handling_site_id": None,
            "full_site_name": "MPP Kukar Tenggarong",
            "retry_from": date(2027, 1, 1),
        }
    )
    template, variables = sms_for_routing(refused) or ("", {})
    sms = render(template, variables)
    assert template == "kuota_penuh" and sms.segments <= 2
    assert "MPP Kukar Tenggarong" in sms.body and "Jumat, 1 Jan 2027" in sms.body and "9E22-F8SH" in sms.body
