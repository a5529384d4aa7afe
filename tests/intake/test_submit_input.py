"""Bad input to the submit endpoint: a 4xx naming the field and the reason, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.intake.conftest import NOT_OFFERED, SERVICE, Intake

GOOD: dict[str, Any] = {
    "service_code": SERVICE,
    "channel": "counter",
    "applicant": {"name": "Budi Santoso", "nik": "6402021203850002", "phone": "081234567890"},
}


async def submit(intake: Intake, content: bytes | str, **headers: str) -> httpx.Response:
    return await intake.client.post(
        "/applications",
        content=content,
        headers={"Content-Type": "application/json", **intake.operator(), **headers},
    )


def as_json(body: object) -> bytes:
    return httpx.Request("POST", "/", json=body).content


def fields(response: httpx.Response) -> dict[str, str]:
    return {f["field"]: f["reason"] for f in response.json()["error"]["fields"]}


def with_applicant(**changes: object) -> dict:
    return {**GOOD, "applicant": {**GOOD["applicant"], **changes}}


async def test_a_good_application_is_accepted_with_its_event(intake: Intake) -> None:
    response = await submit(intake, as_json(GOOD))
    assert response.status_code == 201, response.text
    accepted = response.json()
    assert accepted["status"] == "submitted"
    assert accepted["site_id"] == intake.site_id
    assert accepted["queue_ticket"] == "DUK-001"
    [event] = await intake.events()
    assert event["type"] == "application.submitted"
    assert event["tracking_code"] == accepted["tracking_code"]
    assert event["applicant_first_name"] == "Budi"
    assert "6402021203850002" not in str(event)


async def test_malformed_json_is_400_with_the_reason(intake: Intake) -> None:
    response = await submit(intake, b'{"service_code": "DUKCAPIL-AKTA-LAHIR",')
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
        # Full-width and Arabic-Indic digits are digits to str.isdigit(), not to a NIK.
        (with_applicant(nik="６４０２０２１２０３８５０００２"), "applicant.nik", "16 digits"),
        (with_applicant(nik="٦٤٠٢٠٢١٢٠٣٨٥٠٠٠٢"), "applicant.nik", "16 digits"),
        (with_applicant(nik="640202120385000٢"), "applicant.nik", "16 digits"),
        (with_applicant(phone="0541-123456"), "applicant.phone", "landline"),
        (with_applicant(phone="not a phone"), "applicant.phone", ""),
        (with_applicant(name=""), "applicant.name", "at least 1"),
        ({**GOOD, "channel": "fax"}, "channel", "counter"),
        ({**GOOD, "service_code": "akta lahir!"}, "service_code", "pattern"),
        ({**GOOD, "service_code": "NO-SUCH-SERVICE"}, "service_code", "no service with code"),
        ({**GOOD, "service_code": NOT_OFFERED}, "service_code", "not offered at any site"),
        ({**GOOD, "surprise": 1}, "surprise", "not permitted"),
    ],
)
async def test_invalid_fields_are_422_with_the_field_path_and_reason(
    intake: Intake, body: dict, field: str, reason: str
) -> None:
    response = await submit(intake, as_json(body))
    assert response.status_code == 422, response.text
    problems = fields(response)
    assert field in problems, problems
    assert reason in problems[field]


async def test_a_nul_character_is_422_naming_the_field(intake: Intake) -> None:
    response = await submit(intake, as_json(with_applicant(name="Budi\x00Santoso")))
    assert response.status_code == 422, response.text
    assert "NUL" in fields(response)["applicant.name"]
    assert await intake.events() == []


async def test_a_phone_with_non_ascii_digits_is_422(intake: Intake) -> None:
    response = await submit(intake, as_json(with_applicant(phone="081２３４５６７８９０")))
    assert response.status_code == 422, response.text
    assert "applicant.phone" in fields(response)


async def test_a_nik_written_with_spaces_is_accepted(intake: Intake) -> None:
    response = await submit(intake, as_json(with_applicant(nik="6402 0212 0385 0002")))
    assert response.status_code == 201, response.text


async def test_oversize_body_is_413(intake: Intake) -> None:
    huge = with_applicant(name="x" * 200_000)
    response = await submit(intake, as_json(huge))
    assert response.status_code == 413
    assert fields(response) == {"body": "at most 65536 bytes"}


async def test_wrong_top_level_type_and_empty_body(intake: Intake) -> None:
    for content in (b"[1, 2]", b'"text"', b"", b"null"):
        response = await submit(intake, content)
        assert 400 <= response.status_code < 500, (content, response.text)
        assert response.json()["error"]["fields"]


async def test_same_idempotency_key_with_another_body_is_refused(intake: Intake) -> None:
    first = await submit(intake, as_json(GOOD), **{"Idempotency-Key": "k-body"})
    assert first.status_code == 201
    again = await submit(intake, as_json(GOOD), **{"Idempotency-Key": "k-body"})
    assert (again.status_code, again.json()) == (201, first.json())
    other = with_applicant(name="Someone Else")
    refused = await submit(intake, as_json(other), **{"Idempotency-Key": "k-body"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in fields(refused)
    too_long = await submit(intake, as_json(GOOD), **{"Idempotency-Key": "k" * 129})
    assert too_long.status_code == 422
    assert len(await intake.events()) == 1


async def test_an_expired_idempotency_key_is_forgotten_and_may_be_used_again(intake: Intake) -> None:
    first = await submit(intake, as_json(GOOD), **{"Idempotency-Key": "k-old"})
    assert first.status_code == 201
    async with intake.context.pool.acquire() as conn:
        await conn.execute("UPDATE idempotency_key SET created_at = now() - interval '25 hours'")
    other = with_applicant(name="Someone Else")
    second = await submit(intake, as_json(other), **{"Idempotency-Key": "k-old"})
    assert second.status_code == 201, second.text
    assert second.json()["application_id"] != first.json()["application_id"]
    again = await submit(intake, as_json(other), **{"Idempotency-Key": "k-old"})
    assert (again.status_code, again.json()) == (201, second.json())  # the new answer is the one kept


async def test_tracking_needs_the_phone_digits(intake: Intake) -> None:
    accepted = (await submit(intake, as_json(GOOD))).json()
    code = accepted["tracking_code"]

    async def track(tracking_code: str, phone_last4: str) -> httpx.Response:
        return await intake.client.post(
            "/applications/track", json={"tracking_code": tracking_code, "phone_last4": phone_last4}
        )

    found = await track(code, "7890")
    assert found.status_code == 200
    assert found.json()["status"] == "submitted"
    assert (await track(code.lower(), "7890")).status_code == 200
    assert (await track(code, "0000")).status_code == 404
    assert (await track(code, "12")).status_code == 422
    assert (await track(code, "٧٨٩٠")).status_code == 422  # Arabic-Indic digits
    assert "tracking_code" in fields(await track("NOT-A-CODE", "7890"))
    # The old address put the phone digits in the URL: gone.
    gone = await intake.client.get(f"/applications/track/{code}", params={"phone_last4": "7890"})
    assert (gone.status_code, gone.json()["error"]["code"]) == (410, "gone")


async def test_no_submit_while_the_site_is_not_in_the_catalogue(intake: Intake) -> None:
    del intake.context.sites.items[intake.site_id]
    response = await submit(intake, as_json(GOOD))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "site_unknown"
    assert response.headers["Retry-After"]
    ready = await intake.client.get("/readyz")
    assert ready.json()["checks"]["site_in_catalogue"] is False
