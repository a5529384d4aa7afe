"""Provider adapters: the exact requests they send, and how provider answers become results.

Request shapes and happy paths run against our sandbox provider in-process (``httpx.ASGITransport``); the
error answers a sandbox does not produce (500, 429, 401, timeouts, odd bodies) use ``httpx.MockTransport``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest

from mpp_contracts.notify import SmsStatus
from mpp_devstack.sms_sandbox import create_app
from notify.providers import SendResult, SmsProvider, TemporaryProviderError, TwilioProvider, ZenzivaProvider
from notify.providers.base import redact
from notify.providers.mapping import (
    map_report_status,
    map_twilio_error,
    map_twilio_status,
    map_zenziva_error,
)
from notify.providers.twilio import with_reference

MESSAGE_ID = "0b9d7a52-8a41-4b8e-9d43-2f7a9a4d5c11"
TO = "+6281234560001"
BODY = "Permohonan Paspor diterima di Mini MPP Tabang. Kode lacak KKR-7F3K-9Q2M."
CALLBACK = "https://notify.example.id/v1/delivery-reports/twilio?site=all"
ACCOUNT_SID = "AC" + "1" * 32


# ------------------------------------------------------------------ helpers


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        yield app, client
    await app.state.sandbox.aclose()


def twilio(client: httpx.AsyncClient, **overrides: Any) -> TwilioProvider:
    settings: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": "secret-token",
        "from_": "MPPKUKAR",
        "status_callback_url": CALLBACK,
        "base_url": "http://sandbox",
    }
    settings.update(overrides)
    return TwilioProvider(client, **settings)


def zenziva(client: httpx.AsyncClient, **overrides: Any) -> ZenzivaProvider:
    settings: dict[str, Any] = {"userkey": "uk-123", "passkey": "pk-456", "base_url": "http://sandbox"}
    settings.update(overrides)
    return ZenzivaProvider(client, **settings)


class Recorder:
    """A MockTransport that records requests and answers with a canned response (or raises)."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._answer(request)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self), base_url="http://sandbox")


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Recorder:
    def respond(request: httpx.Request) -> httpx.Response:
        if isinstance(body, (dict, list)):
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(status, content=(body or "").encode(), headers=headers)

    return Recorder(respond)


def raising(exc_type: type[httpx.TransportError]) -> Recorder:
    def respond(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return Recorder(respond)


TWILIO_CREATED = {"sid": "SM" + "a" * 32, "status": "queued", "error_code": None, "error_message": None}


def twilio_error(code: int, status: int, message: str = "error") -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


# ------------------------------------------------------------------ contract


def test_adapters_satisfy_the_protocol() -> None:
    client = httpx.AsyncClient()
    assert isinstance(twilio(client), SmsProvider)
    assert isinstance(zenziva(client), SmsProvider)


def test_adapters_refuse_incomplete_settings() -> None:
    client = httpx.AsyncClient()
    with pytest.raises(ValueError):
        twilio(client, auth_token="")
    with pytest.raises(ValueError):
        twilio(client, from_=None, messaging_service_sid=None)
    with pytest.raises(ValueError):
        zenziva(client, passkey="")


# ------------------------------------------------------------------ Twilio: request shape


async def test_twilio_request_shape() -> None:
    recorder = answer(201, TWILIO_CREATED)
    async with recorder.client() as client:
        result = await twilio(client).send(MESSAGE_ID, TO, BODY)

    assert result == SendResult(True, TWILIO_CREATED["sid"], False, None, None, "sending")
    (request,) = recorder.requests
    assert request.method == "POST"
    assert request.url.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:secret-token".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected_auth}"
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert set(form) == {"To", "From", "Body", "StatusCallback"}
    assert form["To"] == TO  # E.164 with the plus
    assert form["From"] == "MPPKUKAR"
    assert form["Body"] == BODY
    callback = urlsplit(form["StatusCallback"])
    assert callback.netloc == "notify.example.id" and callback.path == "/v1/delivery-reports/twilio"
    assert dict(parse_qsl(callback.query)) == {"site": "all", "reference": MESSAGE_ID}


async def test_twilio_messaging_service_instead_of_from() -> None:
    recorder = answer(201, {**TWILIO_CREATED, "status": "accepted"})
    async with recorder.client() as client:
        provider = twilio(client, from_=None, messaging_service_sid="MG" + "2" * 32, status_callback_url=None)
        result = await provider.send(MESSAGE_ID, TO, BODY)
    assert result.accepted and result.status == "sending"
    form = parse_qs(recorder.requests[0].content.decode())
    assert form["MessagingServiceSid"] == ["MG" + "2" * 32]
    assert "From" not in form and "StatusCallback" not in form


def test_with_reference_replaces_an_existing_reference() -> None:
    url = with_reference("https://x.id/dlr?reference=old&a=1", "new")
    assert dict(parse_qsl(urlsplit(url).query)) == {"a": "1", "reference": "new"}


# ------------------------------------------------------------------ Twilio: against the sandbox


async def test_twilio_against_sandbox(sandbox: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = sandbox
    result = await twilio(client).send(MESSAGE_ID, TO, BODY)
    assert result.accepted and not result.permanent
    assert result.provider_message_id and result.provider_message_id.startswith("SM")
    (message,) = app.state.sandbox.messages
    assert message["provider"] == "twilio"
    assert message["reference"] == MESSAGE_ID
    assert message["provider_message_id"] == result.provider_message_id
    assert message["to"] == TO and message["body"] == BODY and message["account"] == ACCOUNT_SID


async def test_twilio_invalid_number_is_permanent_and_redacted(
    sandbox: tuple[Any, httpx.AsyncClient],
) -> None:
    _, client = sandbox
    result = await twilio(client).send(MESSAGE_ID, "+6281234560002", BODY)
    assert result == SendResult(
        False,
        None,
        True,
        "21211",
        "The 'To' number [redacted] is not a valid phone number.",
        "permanent_failure",
    )


async def test_twilio_sandbox_unavailable_is_temporary(sandbox: tuple[Any, httpx.AsyncClient]) -> None:
    _, client = sandbox
    with pytest.raises(TemporaryProviderError) as caught:
        await twilio(client).send(MESSAGE_ID, "+6281234560006", BODY)
    assert caught.value.error_code == "20503"
    assert not caught.value.maybe_accepted


async def test_twilio_wrong_account_in_sandbox_is_technical(sandbox: tuple[Any, httpx.AsyncClient]) -> None:
    _, client = sandbox
    provider = TwilioProvider(
        client,
        account_sid=ACCOUNT_SID,
        auth_token="t",
        from_="MPPKUKAR",
        base_url="http://sandbox",
    )
    provider._auth = httpx.BasicAuth("AC-other", "t")  # credentials of another account
    result = await provider.send(MESSAGE_ID, TO, BODY)
    assert (result.accepted, result.permanent, result.error_code, result.status) == (
        False,
        False,
        "20003",
        "technical_failure",
    )


# ------------------------------------------------------------------ Twilio: error answers


@pytest.mark.parametrize(
    ("status", "body", "code", "permanent", "ours"),
    [
        (
            400,
            twilio_error(21211, 400, "The 'To' number +6281234567890 is not valid."),
            "21211",
            True,
            "permanent_failure",
        ),
        (400, twilio_error(21614, 400), "21614", True, "permanent_failure"),
        (400, twilio_error(21635, 400), "21635", True, "permanent_failure"),
        (400, twilio_error(21610, 400), "21610", True, "permanent_failure"),
        (400, twilio_error(21408, 400), "21408", False, "technical_failure"),
        (400, twilio_error(21606, 400), "21606", False, "technical_failure"),
        (401, twilio_error(20003, 401, "Authenticate"), "20003", False, "technical_failure"),
        (403, "Forbidden", "http_403", False, "technical_failure"),
        (400, twilio_error(99999, 400), "99999", True, "permanent_failure"),  # unknown code: refused for good
        (404, "<html>not found</html>", "http_404", True, "permanent_failure"),
    ],
)
async def test_twilio_refusals(status: int, body: Any, code: str, permanent: bool, ours: SmsStatus) -> None:
    recorder = answer(status, body)
    async with recorder.client() as client:
        result = await twilio(client).send(MESSAGE_ID, TO, BODY)
    assert not result.accepted
    assert result.provider_message_id is None
    assert (result.error_code, result.permanent, result.status) == (code, permanent, ours)
    assert "6281234567890" not in (result.detail or "")


@pytest.mark.parametrize(
    ("status", "body", "headers", "code", "retry_after"),
    [
        (500, "Internal Server Error", None, "http_500", None),
        (502, "", None, "http_502", None),
        (503, twilio_error(20503, 503, "Service Unavailable"), {"Retry-After": "7"}, "20503", 7.0),
        (429, twilio_error(20429, 429, "Too Many Requests"), {"Retry-After": "2"}, "20429", 2.0),
    ],
)
async def test_twilio_server_errors_are_temporary(
    status: int, body: Any, headers: dict[str, str] | None, code: str, retry_after: float | None
) -> None:
    recorder = answer(status, body, headers)
    async with recorder.client() as client:
        with pytest.raises(TemporaryProviderError) as caught:
            await twilio(client).send(MESSAGE_ID, TO, BODY)
    assert caught.value.error_code == code
    assert caught.value.retry_after == retry_after
    assert caught.value.provider == "twilio"
    assert not caught.value.maybe_accepted  # the provider answered: it did not take the message


@pytest.mark.parametrize(
    ("exc", "code", "maybe_accepted"),
    [
        (httpx.ConnectError, "connect_failed", False),
        (httpx.ConnectTimeout, "connect_failed", False),
        (httpx.ReadTimeout, "timeout", True),
        (httpx.WriteTimeout, "timeout", True),
        (httpx.RemoteProtocolError, "transport_error", True),
    ],
)
async def test_twilio_transport_failures_are_temporary(
    exc: type[httpx.TransportError], code: str, maybe_accepted: bool
) -> None:
    async with raising(exc).client() as client:
        with pytest.raises(TemporaryProviderError) as caught:
            await twilio(client).send(MESSAGE_ID, TO, BODY)
    assert caught.value.error_code == code
    assert caught.value.maybe_accepted is maybe_accepted


@pytest.mark.parametrize("body", ["not json", {"status": "queued"}, ["sid"]])
async def test_twilio_unreadable_success_may_have_been_accepted(body: Any) -> None:
    async with answer(201, body).client() as client:
        with pytest.raises(TemporaryProviderError) as caught:
            await twilio(client).send(MESSAGE_ID, TO, BODY)
    assert caught.value.error_code == "unreadable_response"
    assert caught.value.maybe_accepted


async def test_twilio_created_but_already_failed() -> None:
    body = {**TWILIO_CREATED, "status": "failed", "error_code": 30006, "error_message": "Landline"}
    async with answer(201, body).client() as client:
        result = await twilio(client).send(MESSAGE_ID, TO, BODY)
    assert result == SendResult(False, TWILIO_CREATED["sid"], True, "30006", "Landline", "permanent_failure")


async def test_twilio_timeout_is_passed_to_httpx() -> None:
    seen: list[dict[str, Any]] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(201, json=TWILIO_CREATED)

    async with httpx.AsyncClient(transport=httpx.MockTransport(respond)) as client:
        await twilio(client, timeout=3.5).send(MESSAGE_ID, TO, BODY)
    assert seen == [{"connect": 3.5, "read": 3.5, "write": 3.5, "pool": 3.5}]


# ------------------------------------------------------------------ Zenziva


async def test_zenziva_json_request_shape() -> None:
    recorder = answer(
        200, {"messageId": "rc18YqgSQZC3vBj9JoWlDAD0", "to": "081234560001", "status": "1", "text": "Success"}
    )
    async with recorder.client() as client:
        result = await zenziva(client).send(MESSAGE_ID, TO, BODY)
    assert result == SendResult(True, "rc18YqgSQZC3vBj9JoWlDAD0", False, None, None, "sent")
    (request,) = recorder.requests
    assert request.method == "POST"
    assert request.url.path == "/api/sendsms/"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers  # credentials travel in the body
    assert json.loads(request.content) == {
        "userkey": "uk-123",
        "passkey": "pk-456",
        "to": "081234560001",  # national form
        "message": BODY,
    }


async def test_zenziva_form_request_and_international_number() -> None:
    recorder = answer(200, {"messageId": "m1", "to": "6281234560001", "status": "1", "text": "Success"})
    async with recorder.client() as client:
        base_url = "http://sandbox/reguler"  # the production base URL has a product path
        provider = zenziva(client, body_format="form", number_format="international", base_url=base_url)
        result = await provider.send(MESSAGE_ID, TO, BODY)
    assert result.accepted
    (request,) = recorder.requests
    assert request.url.path == "/reguler/api/sendsms/"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert {k: v[0] for k, v in parse_qs(request.content.decode()).items()} == {
        "userkey": "uk-123",
        "passkey": "pk-456",
        "to": "6281234560001",
        "message": BODY,
    }


@pytest.mark.parametrize("body_format", ["json", "form"])
async def test_zenziva_against_sandbox(sandbox: tuple[Any, httpx.AsyncClient], body_format: str) -> None:
    app, client = sandbox
    result = await zenziva(client, body_format=body_format).send(MESSAGE_ID, TO, BODY)
    assert result.accepted and result.status == "sent" and result.provider_message_id
    (message,) = app.state.sandbox.messages
    assert message["provider"] == "zenziva"
    assert message["reference"] is None  # Zenziva has no field for our reference
    assert message["provider_message_id"] == result.provider_message_id
    assert (message["to"], message["body"], message["account"]) == (TO, BODY, "uk-123")


async def test_zenziva_sandbox_invalid_number(sandbox: tuple[Any, httpx.AsyncClient]) -> None:
    _, client = sandbox
    result = await zenziva(client).send(MESSAGE_ID, "+6281234560002", BODY)
    assert result == SendResult(
        False, None, True, "invalid_number", "Nomor tujuan tidak valid", "permanent_failure"
    )


async def test_zenziva_sandbox_unavailable(sandbox: tuple[Any, httpx.AsyncClient]) -> None:
    _, client = sandbox
    with pytest.raises(TemporaryProviderError) as caught:
        await zenziva(client).send(MESSAGE_ID, "+6281234560006", BODY)
    assert caught.value.error_code == "http_503"


@pytest.mark.parametrize(
    ("status", "text", "code", "permanent", "ours"),
    [
        (200, "Nomor tujuan tidak valid", "invalid_number", True, "permanent_failure"),
        (200, "Konten SMS rejected", "content_rejected", True, "permanent_failure"),
        (200, "Userkey / Passkey Salah", "auth", False, "technical_failure"),
        (400, "Wrong Userkey or Passkey", "auth", False, "technical_failure"),
        (200, "Credit tidak mencukupi", "insufficient_balance", False, "technical_failure"),
        (200, "Saldo tidak cukup", "insufficient_balance", False, "technical_failure"),
        (
            200,
            "Pengiriman SMS berulang-ulang ke satu nomor dalam satu waktu",
            "throttled",
            False,
            "temporary_failure",
        ),
        (200, "Something new", "unknown", False, "temporary_failure"),
    ],
)
async def test_zenziva_refusals(status: int, text: str, code: str, permanent: bool, ours: SmsStatus) -> None:
    async with answer(status, {"status": "0", "text": text}).client() as client:
        result = await zenziva(client).send(MESSAGE_ID, TO, BODY)
    assert (result.accepted, result.error_code, result.permanent, result.status) == (
        False,
        code,
        permanent,
        ours,
    )
    assert result.detail == text


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, "", ("auth", False, "technical_failure")),
        (404, "", ("http_404", True, "permanent_failure")),
    ],
)
async def test_zenziva_http_refusals_without_body(
    status: int, body: str, expected: tuple[str, bool, str]
) -> None:
    async with answer(status, body).client() as client:
        result = await zenziva(client).send(MESSAGE_ID, TO, BODY)
    assert (result.error_code, result.permanent, result.status) == expected


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_zenziva_server_errors_are_temporary(status: int) -> None:
    async with answer(status, "oops").client() as client:
        with pytest.raises(TemporaryProviderError) as caught:
            await zenziva(client).send(MESSAGE_ID, TO, BODY)
    assert caught.value.error_code == f"http_{status}"


async def test_zenziva_timeout_and_unreadable() -> None:
    async with raising(httpx.ReadTimeout).client() as client:
        with pytest.raises(TemporaryProviderError) as caught:
            await zenziva(client).send(MESSAGE_ID, TO, BODY)
    assert caught.value.error_code == "timeout" and caught.value.maybe_accepted
    async with answer(200, "<html>maintenance</html>").client() as client:
        with pytest.raises(TemporaryProviderError) as caught:
            await zenziva(client).send(MESSAGE_ID, TO, BODY)
    assert caught.value.error_code == "unreadable_response" and caught.value.maybe_accepted


# ------------------------------------------------------------------ mapping tables


@pytest.mark.parametrize(
    ("status", "error_code", "ours"),
    [
        ("accepted", None, "sending"),
        ("queued", None, "sending"),
        ("sending", None, "sending"),
        ("sent", None, "sending"),
        ("delivered", None, "delivered"),
        ("undelivered", None, "temporary_failure"),
        ("undelivered", 30003, "temporary_failure"),
        ("undelivered", 30005, "permanent_failure"),
        ("undelivered", 30006, "permanent_failure"),
        ("undelivered", 30007, "permanent_failure"),
        ("failed", None, "technical_failure"),
        ("failed", 30008, "temporary_failure"),
        ("failed", 30010, "technical_failure"),
        ("failed", 30099, "temporary_failure"),  # unknown carrier error
        ("canceled", None, "technical_failure"),
        ("DELIVERED", None, "delivered"),
        ("something-new", None, "technical_failure"),
    ],
)
def test_twilio_status_table(status: str, error_code: int | None, ours: SmsStatus) -> None:
    assert map_twilio_status(status, error_code) == ours


def test_twilio_error_fallbacks() -> None:
    assert map_twilio_error(None, 401)[0] == "technical_failure"
    assert map_twilio_error(None, 400)[0] == "permanent_failure"
    assert map_twilio_error(21211)[0] == "permanent_failure"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Userkey / Passkey Salah", ("auth", "technical_failure")),
        ("Nomor tujuan tidak valid", ("invalid_number", "permanent_failure")),
        ("Masa aktif habis", ("insufficient_balance", "technical_failure")),
        ("", ("unknown", "temporary_failure")),
    ],
)
def test_zenziva_error_table(text: str, expected: tuple[str, SmsStatus]) -> None:
    assert map_zenziva_error(text) == expected


@pytest.mark.parametrize(
    ("status", "ours"),
    [
        ("delivered", "delivered"),
        ("undelivered", "temporary_failure"),
        ("failed", "permanent_failure"),
        ("sent", "sent"),
        ("bogus", "technical_failure"),
    ],
)
def test_report_status_table(status: str, ours: SmsStatus) -> None:
    assert map_report_status(status) == ours


def test_redact_hides_numbers_and_bounds_length() -> None:
    assert redact("The 'To' number +62 812-3456-7890 is invalid") == "The 'To' number [redacted] is invalid"
    assert redact("NIK 6402011203900001 bad") == "NIK [redacted] bad"
    assert redact("code 21211") == "code 21211"
    assert redact(None) is None
    assert len(redact("x" * 1000) or "") == 300
