"""Intake's rules without a database: the NIK (with property tests), statuses, tickets, the checklist, tracking's
sentences, and what the OpenAPI document says (and that the committed one is current)."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import get_args

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from intake.app import create_app
from intake.domain import (
    FINAL,
    KABUPATEN_KOTA_CODES,
    OPERATOR_MOVES,
    PROVINCE_CODES,
    TRANSITIONS,
    OperatorStatus,
    check_requirements,
    next_step,
    ready_status,
    ticket_prefix,
    validate_nik,
)
from intake.settings import IntakeSettings, Operator
from mpp_contracts.catalog import RequirementItem
from mpp_contracts.intake import ApplicationStatus

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "docs" / "api" / "intake.openapi.json"
AGENCIES = ROOT / "services" / "catalog" / "src" / "catalog" / "data" / "kukar" / "agencies.yaml"


@pytest.mark.parametrize(
    "nik",
    [
        "６４０２０２１２０３８５０００２",  # full-width
        "٦٤٠٢٠٢١٢٠٣٨٥٠٠٠٢",  # Arabic-Indic
        "۶۴۰۲۰۲۱۲۰۳۸۵۰۰۰۲",  # extended Arabic-Indic (Persian)
        "640202120385000\u0662",
        "64020212038500\u00b2\u00b2",  # superscript two: isdigit() but not a decimal digit
    ],
)
def test_a_nik_takes_ascii_digits_only(nik: str) -> None:
    with pytest.raises(ValueError, match="16 digits"):
        validate_nik(nik)


def test_a_nik_in_ascii_digits_with_spaces_is_accepted() -> None:
    assert validate_nik("6402 0241 0190 0001") == "6402024101900001"


def test_there_are_38_provinces() -> None:
    assert len(PROVINCE_CODES) == 38
    assert PROVINCE_CODES["64"] == "Kalimantan Timur" and PROVINCE_CODES["96"] == "Papua Barat Daya"


# ---- property tests: what makes a NIK ----------------------------------------------------------------------

provinces = st.sampled_from(sorted(PROVINCE_CODES))
not_provinces = st.integers(0, 99).map(lambda n: f"{n:02d}").filter(lambda c: c not in PROVINCE_CODES)
regencies = st.sampled_from(sorted(KABUPATEN_KOTA_CODES))  # province + kabupaten/kota, as listed
area = st.integers(1, 99).map(lambda n: f"{n:02d}")  # a kecamatan: never 00
births = st.dates(date(1930, 1, 1), date(2029, 12, 31))
serials = st.integers(1, 9999).map(lambda n: f"{n:04d}")


def birth_digits(born: date, woman: bool) -> str:
    return f"{born.day + (40 if woman else 0):02d}{born.month:02d}{born.year % 100:02d}"


@st.composite
def valid_niks(draw: st.DrawFn) -> str:
    born = draw(births)
    return draw(regencies) + draw(area) + birth_digits(born, draw(st.booleans())) + draw(serials)


@given(valid_niks(), st.lists(st.integers(0, 16), max_size=4))
def test_every_well_formed_nik_is_accepted_wherever_spaces_are(nik: str, spaces: list[int]) -> None:
    spaced = nik
    for position in sorted(spaces, reverse=True):
        spaced = spaced[:position] + " " + spaced[position:]
    assert validate_nik(spaced) == nik


@given(valid_niks(), not_provinces)
def test_a_nik_outside_the_38_provinces_is_refused(nik: str, province: str) -> None:
    with pytest.raises(ValueError, match="province"):
        validate_nik(province + nik[2:])


@given(valid_niks(), st.sampled_from([2, 4]))
def test_a_nik_with_kabupaten_or_kecamatan_00_is_refused(nik: str, at: int) -> None:
    with pytest.raises(ValueError, match="kabupaten/kota" if at == 2 else "kecamatan"):
        validate_nik(nik[:at] + "00" + nik[at + 2 :])


@given(valid_niks(), st.integers(1, 99).map(lambda n: f"{n:02d}"))
def test_a_nik_with_a_kabupaten_kota_not_of_its_province_is_refused(nik: str, regency: str) -> None:
    if nik[:2] + regency in KABUPATEN_KOTA_CODES:
        return
    with pytest.raises(ValueError, match="kabupaten/kota"):
        validate_nik(nik[:2] + regency + nik[4:])


def test_the_kabupaten_kota_list_has_every_province_and_kukar() -> None:
    assert {code[:2] for code in KABUPATEN_KOTA_CODES} == set(PROVINCE_CODES)
    assert "6402" in KABUPATEN_KOTA_CODES  # Kutai Kartanegara
    assert "9101" in KABUPATEN_KOTA_CODES  # Papua's code before the 2022 split: NIKs issued then keep it


@given(valid_niks(), st.integers(13, 99) | st.just(0))
def test_a_nik_with_no_such_month_is_refused(nik: str, month: int) -> None:
    with pytest.raises(ValueError, match="birth date"):
        validate_nik(nik[:8] + f"{month:02d}" + nik[10:])


@given(valid_niks())
def test_a_nik_with_serial_0000_is_refused(nik: str) -> None:
    with pytest.raises(ValueError, match="serial"):
        validate_nik(nik[:12] + "0000")


@given(st.text(max_size=40))
def test_any_text_is_a_nik_or_a_value_error(text: str) -> None:
    try:
        nik = validate_nik(text)
    except ValueError:
        return
    assert len(nik) == 16 and nik.isascii() and nik.isdigit()


@given(births, serials, st.sampled_from([0, 32, 40, 72, 99]))
def test_a_womans_birth_day_is_written_plus_40_and_other_days_are_nobodys(
    born: date, serial: str, day: int
) -> None:
    assert validate_nik("640202" + birth_digits(born, True) + serial)
    with pytest.raises(ValueError, match="birth date"):
        validate_nik("640202" + f"{day:02d}" + birth_digits(born, False)[2:] + serial)


# ---- statuses ----------------------------------------------------------------------------------------------


def test_every_status_has_its_moves_and_operators_set_only_their_own() -> None:
    assert set(TRANSITIONS) == set(get_args(ApplicationStatus))
    assert set(get_args(OperatorStatus)) == OPERATOR_MOVES
    assert set().union(*TRANSITIONS.values()) <= set(get_args(ApplicationStatus))
    assert not any("submitted" in moves or "incomplete" in moves for moves in TRANSITIONS.values())
    # awaiting_verification: no move by anyone; only the applicant's code (verify) makes it submitted.
    assert FINAL == {
        "sent_to_origin",
        "refused",
        "completed",
        "cancelled",
        "rejected",
        "awaiting_verification",
    }
    assert next_step("forwarded", "MPP Tenggarong").startswith("Datang ke MPP Tenggarong")
    assert all(next_step(status, "X") for status in TRANSITIONS)


def test_a_forwarded_result_goes_home_unless_collected_where_it_was_made() -> None:
    assert ready_status("tabang", "mpp-tenggarong", "origin") == "sent_to_origin"
    assert ready_status("tabang", "mpp-tenggarong", "handling") == "ready_for_pickup"
    assert ready_status(None, "loa-kulu", "origin") == "ready_for_pickup"


def test_kukar_agencies_get_distinct_three_letter_ticket_prefixes() -> None:
    codes = [agency["code"] for agency in yaml.safe_load(AGENCIES.read_text())["agencies"]]
    prefixes = {code: ticket_prefix(code) for code in codes}
    assert (prefixes["DUKCAPIL"], prefixes["IMIGRASI"], prefixes["DISHUB"]) == ("DUK", "IMI", "DHU")
    assert all(1 <= len(p) <= 3 for p in prefixes.values())
    assert len(set(prefixes.values())) == len(codes), prefixes


def test_the_checklist_names_what_is_missing() -> None:
    required = (
        RequirementItem(name="KTP-el", form="original"),
        RequirementItem(name="Kartu Keluarga", form="copy"),
        RequirementItem(name="Pas foto", form="digital", optional=True),
    )
    outcome = check_requirements(required, named=["KTP-el", "Surat lain"], provided=["KTP-el"])
    assert outcome.missing == ("Kartu Keluarga",) and outcome.unknown == ("Surat lain",)
    assert check_requirements((), named=["apa saja"], provided=[]).missing == ()


def test_operator_tokens_bind_an_operator_to_a_site() -> None:
    settings = IntakeSettings(site_id="loa-kulu", operator_tokens="ani:t1, budi@tabang:t2,broken,:t3")
    assert settings.operators() == {"t1": Operator("ani", "loa-kulu"), "t2": Operator("budi", "tabang")}


# ---- the OpenAPI document ----------------------------------------------------------------------------------


def document() -> dict:
    return create_app(IntakeSettings(site_id="loa-kulu", operator_tokens="ani:secret")).openapi()


def test_the_committed_openapi_document_is_current() -> None:
    """`UPDATE_OPENAPI=1 .venv/bin/pytest tests/intake/test_rules.py` rewrites docs/api/intake.openapi.json."""
    current = json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_OPENAPI"):
        OPENAPI.write_text(current)
    assert OPENAPI.read_text() == current, (
        "docs/api/intake.openapi.json is stale: regenerate it (see docstring)"
    )


def test_the_document_states_every_answer_and_rule() -> None:
    paths = document()["paths"]
    operator_errors = {"401", "404", "409", "422", "503"}
    statuses = {
        ("post", "/applications"): {"201", "400", "401", "403", "413", "422", "429", "503"},
        ("post", "/applications/{application_id}/verify"): {
            "200",
            "400",
            "404",
            "409",
            "413",
            "422",
            "429",
            "503",
        },
        ("post", "/applications/track"): {"200", "400", "404", "413", "422", "429"},
        ("get", "/applications/track/{tracking_code}"): {"410", "422"},
        ("post", "/applications/{application_id}/erase"): {
            "200",
            "400",
            "401",
            "403",
            "404",
            "409",
            "413",
            "422",
        },
        ("post", "/applications/{application_id}/verification/resend"): {
            "202",
            "404",
            "409",
            "422",
            "429",
            "503",
        },
        ("get", "/applications/{application_id}"): {"200", "401", "404", "422"},
        ("post", "/applications/{application_id}/status"): {"200", "400", "413"} | operator_errors,
        ("post", "/applications/{application_id}/ready"): {"200", "400", "413"} | operator_errors,
        ("post", "/applications/{application_id}/cancel"): {"200", "400", "403", "413"} | operator_errors,
        ("post", "/applications/{application_id}/check-in"): {"200"} | operator_errors,
        ("post", "/applications/{application_id}/reschedule"): {
            "202",
            "400",
            "401",
            "404",
            "409",
            "413",
            "422",
        },
        ("get", "/queue"): {"200", "401", "422", "503"},
        ("get", "/arrivals"): {"200", "401", "422", "503"},
        ("get", "/search"): {"200", "401", "422", "503"},
    }
    for (method, path), expected in statuses.items():
        assert set(paths[path][method]["responses"]) == expected, (method, path)
        public = ("/applications", "/applications/track", "/applications/track/{tracking_code}")
        if path not in public and not path.endswith(("/verify", "/verification/resend")):
            assert paths[path][method]["security"] == [{"OperatorToken": []}], path

    schemas = document()["components"]["schemas"]
    assert schemas["Applicant"]["properties"]["nik"]["pattern"] == r"^ *(?:[0-9] *){16}$"
    assert "Indonesian mobile" in schemas["Applicant"]["properties"]["phone"]["description"]
    assert schemas["StatusChange"]["then"]["required"] == ["note"]
    assert schemas["ApplicationRequest"]["properties"]["channel"]["enum"] == ["counter", "online", "kiosk"]
    assert schemas["DocumentReference"]["properties"]["sha256"]["pattern"] == "^[0-9a-f]{64}$"
    assert "Kepmendagri" in schemas["Applicant"]["properties"]["nik"]["description"]
    parameters = {p["name"]: p["schema"] for p in paths["/applications"]["post"]["parameters"]}
    assert parameters["idempotency-key"]["anyOf"][0]["maxLength"] == 128
    # The second factor travels in the body, never in a URL.
    tracking = schemas["TrackingRequest"]["properties"]
    assert tracking["phone_last4"]["pattern"] == "^[0-9]{4}$"
    assert tracking["tracking_code"]["pattern"].startswith("^[0-9A-HJKMNP-TV-Z")
    assert schemas["VerificationCode"]["properties"]["code"]["pattern"] == "^[0-9]{6}$"
    assert paths["/applications"]["post"]["security"] == [{"OperatorToken": []}, {}]
