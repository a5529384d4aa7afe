"""SMS templates: one GSM-7 segment with realistic long values, fail closed, never personal data."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from notify.gsm7 import is_gsm7
from notify.templates import (
    MAX_SEGMENTS,
    TEMPLATES,
    ForbiddenContent,
    MessageTooLong,
    MissingTemplateVariable,
    UnknownTemplate,
    format_jam,
    format_tanggal,
    get_template,
    render,
)

# Long but real values: the longest day name and a two-digit day, a long kecamatan site name, a tracking
# code of the intake format, a long service name, the central site, a three-item checklist.
LONG_VALUES = {
    "layanan": "Surat Keterangan Pindah",
    "lokasi": "Mini MPP Kota Bangun Darat",
    "kode": "KKR-7F3K-9Q2M",
    "tanggal": format_tanggal(date(2026, 12, 29)),  # "Selasa, 29 Des 2026"
    "jam": format_jam(time(8, 30)),
    "tempat": "MPP Kutai Kartanegara",
    "bawa": "KTP-el, KK, akta lahir asli",
    "alasan": "fotokopi KK belum dilampirkan",
    "kurang": "Kartu Keluarga, surat pengantar RT",
    "mulai": format_tanggal(date(2027, 1, 27)),  # "Rabu, 27 Jan 2027"
}

EXPECTED_NAMES = {
    "permohonan_diterima",
    "diteruskan_ke_pusat",
    "siap_diambil",
    "ditolak",
    "layanan_tidak_tersedia",
    "kuota_penuh",
    "belum_lengkap",
    "jadwal_dipindah",
    "jadwal_tetap",
    "jadwal_dibatalkan",
    "tidak_hadir",
    "kode_verifikasi",
}


def test_catalogue_of_templates() -> None:
    assert set(TEMPLATES) == EXPECTED_NAMES
    for template in TEMPLATES.values():
        assert template.version >= 1
        assert template.required, template.name
        assert set(template.required) <= set(LONG_VALUES), template.name
        assert template.body[0].isupper(), "bodies start with a fixed capitalised word"
        assert is_gsm7(template.body), template.name


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_template_fits_one_segment_with_long_values(name: str) -> None:
    sms = render(name, LONG_VALUES)
    assert sms.segments == 1, (len(sms.body), sms.body)
    assert sms.encoding == "GSM-7"
    assert len(sms.body) <= 160
    assert "((" not in sms.body and "))" not in sms.body
    assert sms.template == name and sms.version == TEMPLATES[name].version


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_template_names_the_centre(name: str) -> None:
    body = render(name, LONG_VALUES).body
    assert "MPP" in body  # the brand must be in the content for registered sender IDs


def test_appointment_text_says_when_where_and_what_to_bring() -> None:
    body = render("diteruskan_ke_pusat", LONG_VALUES).body
    for value in (
        "Selasa, 29 Des 2026",
        "08.30 WITA",
        "MPP Kutai Kartanegara",
        "KTP-el, KK, akta lahir asli",
    ):
        assert value in body
    assert "KKR-7F3K-9Q2M" in body


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_first_name_greeting_when_it_fits(name: str) -> None:
    short = {**LONG_VALUES, "layanan": "Paspor", "lokasi": "Mini MPP Tabang", "alasan": "foto buram"}
    sms = render(name, {**short, "nama_depan": "siti aminah"})
    assert sms.body.startswith("Yth. Siti, ")
    assert "Aminah" not in sms.body  # first name only
    assert sms.segments == 1


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_greeting_is_dropped_rather_than_a_second_segment(name: str) -> None:
    sms = render(name, {**LONG_VALUES, "nama_depan": "Muhammad"})
    assert sms.segments == 1
    assert sms.body.startswith("Yth. Muhammad, ") or sms.body == render(name, LONG_VALUES).body


def test_the_courteous_anda_keeps_its_capital_after_the_greeting() -> None:
    short = {**LONG_VALUES, "layanan": "Paspor", "lokasi": "Mini MPP Tabang"}
    assert render("tidak_hadir", {**short, "nama_depan": "siti"}).body.startswith(
        "Yth. Siti, Anda tidak hadir "
    )
    assert render("jadwal_dipindah", {**short, "nama_depan": "siti"}).body.startswith("Yth. Siti, jadwal ")


def test_first_name_is_cleaned() -> None:
    assert render("siap_diambil", {**LONG_VALUES, "nama_depan": "  budi  santoso "}).body.startswith(
        "Yth. Budi, "
    )
    # digits, punctuation and over-long names do not get through
    body = render("siap_diambil", {**LONG_VALUES, "lokasi": "Mini MPP Tabang", "nama_depan": "Bu123di!"}).body
    assert body.startswith("Yth. Budi, ")
    assert render("siap_diambil", {**LONG_VALUES, "nama_depan": "1234"}).body.startswith("Dokumen")
    assert render("siap_diambil", {**LONG_VALUES, "nama_depan": ""}).body.startswith("Dokumen")


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
@pytest.mark.parametrize("blank", [None, "", "   ", "\n"])
def test_missing_or_blank_variable_fails_closed(name: str, blank: str | None) -> None:
    for variable in get_template(name).required:
        values = dict(LONG_VALUES)
        if blank is None:
            del values[variable]
        else:
            values[variable] = blank
        with pytest.raises(MissingTemplateVariable) as caught:
            render(name, values)
        assert caught.value.missing == [variable]


def test_missing_variables_are_all_named() -> None:
    with pytest.raises(MissingTemplateVariable) as caught:
        render("diteruskan_ke_pusat", {"layanan": "Paspor"})
    assert set(caught.value.missing) == {"kode", "tanggal", "jam", "tempat", "bawa"}


def test_unknown_template() -> None:
    with pytest.raises(UnknownTemplate):
        render("tidak_ada", LONG_VALUES)


NIK = "6402011203900001"


@pytest.mark.parametrize(
    "smuggled",
    [
        NIK,
        "6402 0112 0390 0001",
        "6402-0112-0390-0001",
        "6402.0112.0390.0001",
        f"NIK {NIK}",
        "081234567890",  # phone numbers are personal data too
        "+62 812-3456-7890",
    ],
)
@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_no_nik_or_phone_number_can_slip_in(name: str, smuggled: str) -> None:
    for variable in get_template(name).required:
        with pytest.raises(ForbiddenContent):
            render(name, {**LONG_VALUES, variable: smuggled})
    # the optional first name cannot carry it either: digits are stripped from it
    body = render(name, {**LONG_VALUES, "nama_depan": smuggled}).body
    assert not re.search(r"\d(?:[ .\-]?\d){15}", body)


def test_no_sixteen_digit_run_can_be_assembled_from_adjacent_values() -> None:
    # Each value is below the per-variable limit, but placed side by side they would form 16 digits.
    with pytest.raises(ForbiddenContent):
        render("diteruskan_ke_pusat", {**LONG_VALUES, "layanan": "A 64020112", "kode": "03900001"})


def test_values_are_sanitised_to_gsm7_and_one_line() -> None:
    sms = render("ditolak", {**LONG_VALUES, "alasan": "foto \u201cKK\u201d\nburam \u2013 ulangi\u2026"})
    assert 'foto "KK" buram - ulangi...' in sms.body
    assert sms.encoding == "GSM-7"
    assert "\n" not in sms.body


def test_more_than_two_segments_is_refused() -> None:
    with pytest.raises(MessageTooLong) as caught:
        render("ditolak", {**LONG_VALUES, "alasan": "berkas tidak lengkap " * 15})
    assert caught.value.segments > MAX_SEGMENTS


def test_two_segments_are_tolerated() -> None:
    sms = render("ditolak", {**LONG_VALUES, "alasan": "berkas tidak lengkap " * 4})
    assert sms.segments == 2


def test_extra_variables_are_ignored() -> None:
    assert (
        render("siap_diambil", {**LONG_VALUES, "nik": NIK}).body == render("siap_diambil", LONG_VALUES).body
    )


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (date(2026, 12, 7), "Senin, 7 Des 2026"),
        (date(2026, 12, 29), "Selasa, 29 Des 2026"),
        (date(2026, 1, 7), "Rabu, 7 Jan 2026"),
        (date(2026, 8, 13), "Kamis, 13 Agu 2026"),
        (date(2026, 5, 1), "Jumat, 1 Mei 2026"),
        (date(2026, 10, 31), "Sabtu, 31 Okt 2026"),
        (date(2026, 11, 1), "Minggu, 1 Nov 2026"),
        (datetime(2026, 3, 2, 8, 0), "Senin, 2 Mar 2026"),
    ],
)
def test_format_tanggal(day: date, text: str) -> None:
    assert format_tanggal(day) == text


def test_format_jam() -> None:
    assert format_jam(time(8, 30)) == "08.30 WITA"
    assert format_jam(time(13, 5), "WIB") == "13.05 WIB"
    assert format_jam(datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=7)))) == "09.00 WIB"
    assert format_jam(datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=9)))) == "09.00 WIT"
    assert format_jam(datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=8)))) == "09.00 WITA"
    with pytest.raises(ValueError):
        format_jam(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))  # 01.00 UTC is not 01.00 in any Indonesian zone
