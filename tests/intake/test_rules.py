"""Intake's rules without a database: the NIK's shape, the statuses, and what the OpenAPI document says."""

from __future__ import annotations

from typing import get_args

import pytest

from intake.app import create_app
from intake.domain import TRANSITIONS, OperatorStatus, validate_nik
from intake.settings import IntakeSettings
from mpp_contracts.intake import ApplicationStatus


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


def test_operators_set_every_status_but_submitted() -> None:
    assert set(get_args(OperatorStatus)) == set(get_args(ApplicationStatus)) - {"submitted"}
    assert set(TRANSITIONS) == set(get_args(ApplicationStatus))
    assert set().union(*TRANSITIONS.values()) == set(get_args(OperatorStatus))


def test_the_document_states_every_answer_and_rule() -> None:
    app = create_app(IntakeSettings(site_id="loa-kulu", operator_tokens="ani:secret"))
    document = app.openapi()
    paths = document["paths"]
    statuses = {
        ("post", "/applications"): {"201", "400", "413", "422", "503"},
        ("get", "/applications/{application_id}"): {"200", "401", "404", "422"},
        ("post", "/applications/{application_id}/status"): {
            "200",
            "400",
            "401",
            "404",
            "409",
            "413",
            "422",
            "503",
        },
        ("get", "/applications/track/{tracking_code}"): {"200", "404", "422"},
    }
    for (method, path), expected in statuses.items():
        assert set(paths[path][method]["responses"]) == expected, (method, path)
    for path in ("/applications/{application_id}", "/applications/{application_id}/status"):
        assert [{"OperatorToken": []}] == next(iter(paths[path].values()))["security"]

    schemas = document["components"]["schemas"]
    assert schemas["Applicant"]["properties"]["nik"]["pattern"] == r"^ *(?:[0-9] *){16}$"
    assert "Indonesian mobile" in schemas["Applicant"]["properties"]["phone"]["description"]
    assert schemas["StatusChange"]["then"]["required"] == ["note"]
    assert schemas["ApplicationRequest"]["properties"]["channel"]["enum"] == ["counter", "online", "kiosk"]
    parameters = {
        p["name"]: p["schema"]
        for op in (paths["/applications"]["post"], paths["/applications/track/{tracking_code}"]["get"])
        for p in op["parameters"]
    }
    assert parameters["idempotency-key"]["anyOf"][0]["maxLength"] == 128
    assert parameters["phone_last4"]["pattern"] == "^[0-9]{4}$"
    assert parameters["tracking_code"]["pattern"].startswith("^[0-9A-HJKMNP-TV-Z")
