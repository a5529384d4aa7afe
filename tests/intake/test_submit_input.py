"""Bad input to the submit endpoint: a 4xx naming the field and the reason, never a 500 (real intake process)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mpp_devstack.platform import Platform

GOOD: dict[str, Any] = {
    "service_code": "DUKCAPIL-AKTA-LAHIR",
    "channel": "counter",
    "applicant": {"name": "Budi Santoso", "nik": "6402021203850002", "phone": "081234567890"},
}


def submit(platform: Platform, content: bytes | str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{platform.url('intake-loa-kulu')}/applications",
        content=content,
        headers={"Content-Type": "application/json", **headers},
    )


def fields(response: httpx.Response) -> dict[str, str]:
    return {f["field"]: f["reason"] for f in response.json()["error"]["fields"]}


def with_applicant(**changes: object) -> dict:
    return {**GOOD, "applicant": {**GOOD["applicant"], **changes}}


def test_malformed_json_is_400_with_the_reason(platform: Platform) -> None:
    response = submit(platform, b'{"service_code": "DUKCAPIL-AKTA-LAHIR",')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert "body" in fields(response)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({k: v for k, v in GOOD.items() if k != "applicant"}, "applicant", "Field required"),
        (with_applicant(nik="12345"), "applicant.nik", "16 digits"),
        (with_applicant(nik="6402023213850002"), "applicant.nik", "birth date"),
        (with_applicant(nik=6402021203850002), "applicant.nik", "string"),
        (with_applicant(phone="0541-123456"), "applicant.phone", "landline"),
        (with_applicant(phone="not a phone"), "applicant.phone", ""),
        (with_applicant(name=""), "applicant.name", "at least 1"),
        ({**GOOD, "channel": "fax"}, "channel", "counter"),
        ({**GOOD, "service_code": "akta lahir!"}, "service_code", "pattern"),
        ({**GOOD, "service_code": "NO-SUCH-SERVICE"}, "service_code", "no service with code"),
        ({**GOOD, "surprise": 1}, "surprise", "not permitted"),
    ],
)
def test_invalid_fields_are_422_with_the_field_path_and_reason(
    platform: Platform, body: dict, field: str, reason: str
) -> None:
    response = submit(platform, httpx.Request("POST", "/", json=body).content)
    assert response.status_code == 422, response.text
    problems = fields(response)
    assert field in problems, problems
    assert reason in problems[field]


def test_oversize_body_is_413(platform: Platform) -> None:
    huge = with_applicant(name="x" * 200_000)
    response = submit(platform, httpx.Request("POST", "/", json=huge).content)
    assert response.status_code == 413
    assert fields(response) == {"body": "at most 65536 bytes"}


def test_wrong_top_level_type_and_empty_body(platform: Platform) -> None:
    for content in (b"[1, 2]", b'"text"', b"", b"null"):
        response = submit(platform, content)
        assert 400 <= response.status_code < 500, (content, response.text)
        assert response.json()["error"]["fields"]


def test_same_idempotency_key_with_another_body_is_refused(platform: Platform) -> None:
    first = submit(platform, httpx.Request("POST", "/", json=GOOD).content, **{"Idempotency-Key": "k-body"})
    assert first.status_code == 201
    other = with_applicant(name="Someone Else")
    second = submit(platform, httpx.Request("POST", "/", json=other).content, **{"Idempotency-Key": "k-body"})
    assert second.status_code == 422
    assert "Idempotency-Key" in fields(second)


def test_tracking_needs_the_phone_digits(platform: Platform) -> None:
    accepted = submit(platform, httpx.Request("POST", "/", json=GOOD).content).json()
    base = f"{platform.url('intake-loa-kulu')}/applications/track/{accepted['tracking_code']}"
    assert httpx.get(base, params={"phone_last4": "7890"}).json()["status"] == "submitted"
    assert httpx.get(base, params={"phone_last4": "0000"}).status_code == 404
    assert httpx.get(base, params={"phone_last4": "12"}).status_code == 422
