"""Delivery-report webhooks on the real database: our JSON batches and Twilio's signed status callback.
Idempotent, 200 for duplicates and unknown ids, a final status never overwritten."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import uuid4

import httpx
import pytest

from notify.providers.base import SendResult
from notify.providers.twilio import signature, valid_signature, with_reference

# ------------------------------------------------------------------ Twilio's signature scheme


def test_twilio_signature_matches_twilios_published_example() -> None:
    # twilio.com/docs/usage/webhooks/webhooks-security (also the twilio-* libraries' RequestValidator tests)
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    assert signature("12345", url, params.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert valid_signature("12345", [url], params.items(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert valid_signature(
        "12345",
        ["https://mycompany.com:443/myapp.php?foo=1&bar=2"],
        params.items(),
        ("RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    )  # Twilio may sign with or without the default port
    assert not valid_signature("12345", [url + "&x=1"], params.items(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not valid_signature(
        "12345", [url], {**params, "Digits": "9"}.items(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    assert not valid_signature("54321", [url], params.items(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not valid_signature("", [url], params.items(), signature("", url, params.items()))
    assert not valid_signature("12345", [url], params.items(), None)


def test_twilio_signature_with_repeated_parameters() -> None:
    # the repeated-parameter example of Twilio's validator tests: values of one name sorted and de-duplicated
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
    assert signature("12345", url, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


# ------------------------------------------------------------------ our JSON webhook


async def post_reports(stack: Any, *reports: dict[str, Any], token: str | None = None) -> Any:
    return await stack.client.post(
        "/delivery-reports",
        json={"reports": list(reports)},
        headers={"Authorization": f"Bearer {token or stack.REPORT_TOKEN}"},
    )


async def sent_message(stack: Any) -> Any:
    message_id = await stack.new_message(stack.number("0001"))
    await stack.pool.execute(
        "UPDATE sms_message SET status = 'sending', provider = 'twilio', provider_message_id = 'SM1' WHERE id = $1",
        message_id,
    )
    return message_id


async def test_json_webhook_requires_the_bearer_token(stack: Any) -> None:
    body: dict[str, list[Any]] = {"reports": []}
    assert (await stack.client.post("/delivery-reports", json=body)).status_code == 401
    assert (await post_reports(stack, token="wrong")).status_code == 401
    assert (await post_reports(stack)).json() == {"status": "accepted", "applied": 0}


async def test_duplicates_late_reports_and_unknown_ids_are_200_and_final_stays(stack: Any) -> None:
    message_id = await sent_message(stack)
    delivered = {"reference": str(message_id), "status": "delivered"}
    first = await post_reports(stack, delivered)
    assert first.status_code == 200 and first.json()["applied"] == 1
    again = await post_reports(
        stack,
        delivered,  # duplicate
        {"reference": str(message_id), "status": "undelivered", "error_code": "30003"},  # late, contradicting
        {"reference": str(message_id), "status": "accepted"},  # late, earlier in the life of a message
        {"reference": str(uuid4()), "status": "delivered"},  # not ours
        {"reference": "not-a-uuid", "status": "delivered"},
        {"provider_message_id": "unknown-id", "status": "delivered"},
        {"status": "delivered"},
    )
    assert again.status_code == 200 and again.json()["applied"] == 0
    row = await stack.row(message_id)
    assert (row["status"], row["last_error"]) == ("delivered", None)
    assert await stack.published(message_id) == ["created", "delivered"]


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("delivered", "delivered"),
        ("undelivered", "temporary_failure"),
        ("failed", "permanent_failure"),
        ("sent", "sent"),
        ("strange", "technical_failure"),
    ],
)
async def test_json_statuses(stack: Any, reported: str, expected: str) -> None:
    message_id = await sent_message(stack)
    await post_reports(stack, {"reference": str(message_id), "status": reported})
    assert await stack.status(message_id) == expected


async def test_report_without_reference_is_matched_by_the_provider_id(stack: Any) -> None:
    message_id = await sent_message(stack)
    answer = await post_reports(
        stack, {"reference": None, "provider_message_id": "SM1", "status": "delivered"}
    )
    assert answer.json()["applied"] == 1
    assert await stack.status(message_id) == "delivered"


async def test_a_report_that_overtakes_the_send_answer_is_applied_when_the_answer_is_recorded(
    stack: Any,
) -> None:
    """Zenziva's report names only its own id, which we learn from the send answer: if the report comes first,
    it is kept and applied once the answer is recorded."""

    class Racing:
        name = "zenziva"

        async def send(self, message_id: str, to_e164: str, body: str) -> SendResult:
            await post_reports(stack, {"provider_message_id": "Z-77", "status": "delivered"})
            return SendResult.ok("Z-77", "sent")

    message_id = await stack.new_message(stack.number("0001"))
    await stack.dispatcher(Racing()).dispatch_once()
    row = await stack.row(message_id)
    assert (row["status"], row["provider_message_id"]) == ("delivered", "Z-77")
    assert await stack.pool.fetchval("SELECT count(*) FROM sms_unmatched_report") == 0


# ------------------------------------------------------------------ Twilio's status callback


def twilio_callback(
    stack: Any, message_id: Any, public: str | None = None, **form: str
) -> tuple[str, str, str]:
    """(path with query, form body, X-Twilio-Signature) as Twilio would post them to our StatusCallback."""
    url = with_reference(public or stack.CALLBACK, str(message_id))
    body = urlencode(form)
    sig = signature(stack.TWILIO_TOKEN, url, form.items())
    return url.removeprefix("http://notify"), body, sig


async def post_twilio(stack: Any, path: str, body: str, sig: str | None) -> Any:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sig is not None:
        headers["X-Twilio-Signature"] = sig
    return await stack.client.post(path, content=body, headers=headers)


TWILIO_FORM = {
    "AccountSid": "AC" + "2" * 32,
    "From": "MPPKUKAR",
    "ApiVersion": "2010-04-01",
    "SmsSid": "SM1",
    "SmsStatus": "delivered",
    "MessageSid": "SM1",
    "MessageStatus": "delivered",
}


async def test_twilio_callback_signed_is_applied(stack: Any) -> None:
    message_id = await sent_message(stack)
    path, body, sig = twilio_callback(stack, message_id, **TWILIO_FORM)
    answer = await post_twilio(stack, path, body, sig)
    assert answer.status_code == 200
    assert await stack.status(message_id) == "delivered"


async def test_twilio_callback_without_a_valid_signature_is_refused(stack: Any) -> None:
    message_id = await sent_message(stack)
    path, body, sig = twilio_callback(stack, message_id, **TWILIO_FORM)
    assert (await post_twilio(stack, path, body, None)).status_code == 403
    assert (await post_twilio(stack, path, body, "AAAA" + sig[4:])).status_code == 403
    tampered = body.replace("delivered", "undelivered")
    assert (await post_twilio(stack, path, tampered, sig)).status_code == 403
    other = path.replace(str(message_id), str(uuid4()))  # the reference is part of the signed URL
    assert (await post_twilio(stack, other, body, sig)).status_code == 403
    assert await stack.status(message_id) == "sending"


async def test_twilio_callback_duplicates_late_and_unknown_are_200(stack: Any) -> None:
    message_id = await sent_message(stack)
    undelivered = {
        **TWILIO_FORM,
        "MessageStatus": "undelivered",
        "SmsStatus": "undelivered",
        "ErrorCode": "30003",
    }
    for form in (TWILIO_FORM, TWILIO_FORM, undelivered, {**TWILIO_FORM, "MessageStatus": "sent"}):
        path, body, sig = twilio_callback(stack, message_id, **form)
        assert (await post_twilio(stack, path, body, sig)).status_code == 200
    path, body, sig = twilio_callback(stack, uuid4(), **TWILIO_FORM)
    assert (await post_twilio(stack, path, body, sig)).status_code == 200
    assert (await stack.row(message_id))["status"] == "delivered"
    assert await stack.published(message_id) == ["created", "delivered"]


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("sent", None, "sending"),
        ("undelivered", "30003", "temporary_failure"),
        ("undelivered", "30005", "permanent_failure"),
        ("failed", "30002", "technical_failure"),
    ],
)
async def test_twilio_statuses(stack: Any, status: str, error: str | None, expected: str) -> None:
    message_id = await sent_message(stack)
    form = {**TWILIO_FORM, "MessageStatus": status, "SmsStatus": status} | (
        {"ErrorCode": error} if error else {}
    )
    path, body, sig = twilio_callback(stack, message_id, **form)
    assert (await post_twilio(stack, path, body, sig)).status_code == 200
    row = await stack.row(message_id)
    assert (row["status"], row["last_error"]) == (expected, error)


async def test_twilio_callback_without_reference_is_matched_by_message_sid(stack: Any) -> None:
    message_id = await sent_message(stack)
    body = urlencode(TWILIO_FORM)
    sig = signature(stack.TWILIO_TOKEN, stack.CALLBACK, TWILIO_FORM.items())
    assert (await post_twilio(stack, "/delivery-reports/twilio", body, sig)).status_code == 200
    assert await stack.status(message_id) == "delivered"


async def test_twilio_signature_is_checked_against_the_public_url_behind_a_proxy(stack: Any) -> None:
    """Twilio signs the public https URL it called; the request reaches us as plain http through a proxy."""
    message_id = await sent_message(stack)
    public = "https://notify.example.id/delivery-reports/twilio?site=all"
    proxied = stack.notify_app(sms_status_callback_url=public)
    url = with_reference(public, str(message_id))
    sig = signature(stack.TWILIO_TOKEN, url, TWILIO_FORM.items())
    transport = httpx.ASGITransport(app=proxied)
    async with httpx.AsyncClient(transport=transport, base_url="http://notify.internal:8000") as client:
        answer = await client.post(
            url.removeprefix("https://notify.example.id"),
            content=urlencode(TWILIO_FORM),
            headers={"X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 200
    assert await stack.status(message_id) == "delivered"


# ------------------------------------------------------------------ bad input: 4xx in the error format, never 500


@pytest.mark.parametrize("field", ["reference", "provider_message_id", "status", "error_code"])
async def test_nul_in_a_delivery_report_field_is_422_naming_it(stack: Any, field: str) -> None:
    report = {"reference": str(uuid4()), "status": "delivered", field: "SM\x001"}
    answer = await post_reports(stack, report)
    assert answer.status_code == 422
    assert [f["field"] for f in answer.json()["error"]["fields"]] == [f"reports[0].{field}"]


async def test_nul_in_the_twilio_form_is_422_naming_the_field(stack: Any) -> None:
    message_id = await sent_message(stack)
    path, body, sig = twilio_callback(stack, message_id, **{**TWILIO_FORM, "ErrorCode": "300\x0003"})
    answer = await post_twilio(stack, path, body, sig)
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"][0]["field"] == "ErrorCode"
    assert await stack.status(message_id) == "sending"


async def test_credentials_are_checked_before_the_body_and_non_ascii_ones_are_401(stack: Any) -> None:
    not_a_batch = {"reports": "nope"}
    anonymous = await stack.client.post("/delivery-reports", json=not_a_batch)
    assert anonymous.status_code == 401  # not 422: nothing about the body is told to an unknown caller
    for token in ("t\u00e9st", "\u201ctoken\u201d"):
        answer = await stack.client.post(
            "/delivery-reports",
            json=not_a_batch,
            headers={"Authorization": f"Bearer {token}".encode()},
        )
        assert answer.status_code == 401, token
    ops = await stack.client.get("/messages", headers={"Authorization": "Bearer \u00e9".encode()})
    assert ops.status_code == 401


@pytest.mark.parametrize("path", ["/delivery-reports/twilio", "/delivery-reports"])
async def test_a_streamed_body_over_the_limit_is_413(stack: Any, path: str) -> None:
    limit = stack.settings.http_max_body_bytes

    async def chunks() -> Any:  # no Content-Length: the size is only known while reading
        for _ in range(limit // 1024 + 2):
            yield b"x" * 1024

    answer = await stack.client.post(
        path,
        content=chunks(),
        headers={"Authorization": f"Bearer {stack.REPORT_TOKEN}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"


def test_every_status_a_route_answers_is_documented(stack: Any) -> None:
    paths = stack.app.openapi()["paths"]
    documented = {
        (path, method): set(operation["responses"])
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    assert {"200", "400", "401", "413", "422"} <= documented[("/delivery-reports", "post")]
    assert {"200", "403", "413", "422"} <= documented[("/delivery-reports/twilio", "post")]
    assert {"200", "401", "404", "422"} <= documented[("/messages/{message_id}", "get")]
    assert {"200", "401", "422"} <= documented[("/messages", "get")]
