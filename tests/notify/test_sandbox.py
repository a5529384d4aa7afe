"""The sandbox SMS provider: special numbers, recording, and delivery reports posted to a webhook.

Most tests run both apps in-process (``httpx.ASGITransport``); one starts the sandbox with its command line
(``python -m mpp_devstack.sms_sandbox``) and a webhook receiver under uvicorn on free local ports.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from mpp_devstack.sms_sandbox import create_app
from notify.providers import SendResult, TemporaryProviderError, TwilioProvider, ZenzivaProvider

TOKEN = "webhook-secret"
WEBHOOK = "http://notify.test/v1/delivery-reports"
ACCOUNT_SID = "AC" + "1" * 32
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@dataclass
class Receiver:
    """A stand-in for notify's delivery-report webhook."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    fail_first: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/delivery-reports")
        async def receive(request: Request) -> Response:
            self.authorizations.append(request.headers.get("authorization"))
            if self.fail_first > 0:
                self.fail_first -= 1
                return Response(status_code=503)
            self.reports.extend((await request.json())["reports"])
            return Response(status_code=200)

        return app


@dataclass
class Stack:
    app: FastAPI
    client: httpx.AsyncClient
    receiver: Receiver

    @property
    def state(self) -> Any:
        return self.app.state.sandbox

    def twilio(self, **overrides: Any) -> TwilioProvider:
        settings: dict[str, Any] = {
            "account_sid": ACCOUNT_SID,
            "auth_token": "token",
            "from_": "MPPKUKAR",
            "status_callback_url": "http://notify.test/v1/delivery-reports/twilio",
            "base_url": "http://sandbox",
        }
        settings.update(overrides)
        return TwilioProvider(self.client, **settings)

    def zenziva(self) -> ZenzivaProvider:
        return ZenzivaProvider(self.client, userkey="uk", passkey="pk", base_url="http://sandbox")


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    receiver = Receiver()
    webhook_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()))
    app = create_app(
        WEBHOOK, TOKEN, webhook_client=webhook_client, slow_seconds=0.3, hang_seconds=0.3, report_delay=0.0
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        yield Stack(app, client, receiver)
    await app.state.sandbox.aclose()
    await webhook_client.aclose()


# ------------------------------------------------------------------ special numbers, both API shapes


@pytest.mark.parametrize("provider", ["twilio", "zenziva"])
@pytest.mark.parametrize("to", ["+6281234560001", "+6281299998888"])
async def test_accepted_and_reported_delivered(stack: Stack, provider: str, to: str) -> None:
    adapter = stack.twilio() if provider == "twilio" else stack.zenziva()
    result = await adapter.send("msg-1", to, "Halo")
    assert result.accepted
    await stack.state.wait_idle()
    expected_reference = "msg-1" if provider == "twilio" else None
    assert stack.receiver.reports == [
        {
            "reference": expected_reference,
            "provider_message_id": result.provider_message_id,
            "status": "delivered",
            "error_code": None,
        }
    ]
    assert stack.receiver.authorizations == [f"Bearer {TOKEN}"]


@pytest.mark.parametrize("provider", ["twilio", "zenziva"])
async def test_0002_is_refused_as_invalid_number(stack: Stack, provider: str) -> None:
    adapter = stack.twilio() if provider == "twilio" else stack.zenziva()
    result = await adapter.send("msg-2", "+6281234560002", "Halo")
    assert not result.accepted and result.permanent and result.status == "permanent_failure"
    await stack.state.wait_idle()
    assert stack.state.messages == [] and stack.receiver.reports == []
    assert [r["outcome"] for r in stack.state.requests] == ["refused"]


@pytest.mark.parametrize("provider", ["twilio", "zenziva"])
async def test_0003_is_accepted_then_undelivered(stack: Stack, provider: str) -> None:
    adapter = stack.twilio() if provider == "twilio" else stack.zenziva()
    result = await adapter.send("msg-3", "+6281234560003", "Halo")
    assert result.accepted
    await stack.state.wait_idle()
    (report,) = stack.receiver.reports
    assert report["status"] == "undelivered" and report["error_code"] == "30003"
    assert report["provider_message_id"] == result.provider_message_id


@pytest.mark.parametrize("provider", ["twilio", "zenziva"])
async def test_0004_hangs_then_504(stack: Stack, provider: str) -> None:
    adapter = stack.twilio() if provider == "twilio" else stack.zenziva()
    started = time.monotonic()
    with pytest.raises(TemporaryProviderError):
        await adapter.send("msg-4", "+6281234560004", "Halo")
    assert time.monotonic() - started >= 0.3
    assert stack.state.messages == []
    assert [r["outcome"] for r in stack.state.requests] == ["hung"]


@pytest.mark.parametrize("provider", ["twilio", "zenziva"])
async def test_0005_is_slow_then_delivered(stack: Stack, provider: str) -> None:
    adapter = stack.twilio() if provider == "twilio" else stack.zenziva()
    started = time.monotonic()
    result = await adapter.send("msg-5", "+6281234560005", "Halo")
    assert time.monotonic() - started >= 0.3
    assert result.accepted
    await stack.state.wait_idle()
    assert [r["status"] for r in stack.receiver.reports] == ["delivered"]


@pytest.mark.parametrize("provider", ["twilio", "zenziva"])
async def test_0006_is_unavailable(stack: Stack, provider: str) -> None:
    adapter = stack.twilio() if provider == "twilio" else stack.zenziva()
    with pytest.raises(TemporaryProviderError):
        await adapter.send("msg-6", "+6281234560006", "Halo")
    assert stack.state.messages == []
    assert [r["outcome"] for r in stack.state.requests] == ["unavailable"]


# ------------------------------------------------------------------ recording and inspection


async def test_records_headers_and_filters_by_number(stack: Stack) -> None:
    await stack.client.post(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        data={"To": "+6281234567890", "From": "MPPKUKAR", "Body": "Satu"},
        auth=(ACCOUNT_SID, "token"),
        headers={"traceparent": TRACEPARENT},
    )
    await stack.zenziva().send("m2", "+6285212345678", "Dua")

    everything = (await stack.client.get("/_sandbox/messages")).json()
    assert [m["body"] for m in everything] == ["Satu", "Dua"]
    first = everything[0]
    assert first["headers"]["traceparent"] == TRACEPARENT
    assert first["headers"]["authorization"] == "<redacted>"
    assert first["received_at"]
    assert first["reference"] is None  # no StatusCallback, no reference

    for form in ("+6281234567890", "081234567890", "6281234567890", "0812-3456-7890"):
        only = (await stack.client.get("/_sandbox/messages", params={"to": form})).json()
        assert [m["body"] for m in only] == ["Satu"], form

    assert (await stack.client.delete("/_sandbox/messages")).status_code == 204
    assert (await stack.client.get("/_sandbox/messages")).json() == []
    assert (await stack.client.get("/_sandbox/requests")).json() == []


async def test_credentials_are_required(stack: Stack) -> None:
    url = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    form = {"To": "+6281234567890", "From": "MPPKUKAR", "Body": "x"}
    no_auth = await stack.client.post(url, data=form)
    assert no_auth.status_code == 401 and no_auth.json()["code"] == 20003
    other_account = await stack.client.post(url, data=form, auth=("AC-other", "t"))
    assert other_account.status_code == 401
    zenziva = await stack.client.post("/api/sendsms/", json={"to": "081234567890", "message": "x"})
    assert zenziva.json() == {"status": "0", "text": "Userkey / Passkey Salah"}
    assert stack.state.messages == []


async def test_twilio_field_validation(stack: Stack) -> None:
    url = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    auth = (ACCOUNT_SID, "t")
    cases = [
        ({"From": "X", "Body": "x"}, 21604),
        ({"To": "+6281234567890", "From": "X"}, 21602),
        ({"To": "+6281234567890", "Body": "x"}, 21603),
        ({"To": "081234567890", "From": "X", "Body": "x"}, 21211),  # not E.164
    ]
    for form, code in cases:
        response = await stack.client.post(url, data=form, auth=auth)
        assert (response.status_code, response.json()["code"]) == (400, code), form


async def test_report_is_retried_after_a_webhook_error(stack: Stack) -> None:
    stack.receiver.fail_first = 1
    stack.state.report_delay = 0.0
    result = await stack.twilio().send("msg-r", "+6281234560001", "Halo")
    await stack.state.wait_idle()
    assert [r["reference"] for r in stack.receiver.reports] == ["msg-r"]
    assert [a["status_code"] for a in stack.state.reports] == [503, 200]
    assert result.accepted


async def test_no_webhook_no_report() -> None:
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        result = await ZenzivaProvider(client, userkey="u", passkey="p", base_url="http://sandbox").send(
            "m", "+6281234567890", "x"
        )
        assert result.accepted
        assert app.state.sandbox.tasks == set()
        assert (await client.get("/healthz")).json() == {"status": "ok"}
    await app.state.sandbox.aclose()


# ------------------------------------------------------------------ real processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def receiver_server() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(receiver.app(), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield receiver, f"http://127.0.0.1:{port}/v1/delivery-reports"
    server.should_exit = True
    await task


async def test_command_line_sandbox_over_real_http(receiver_server: tuple[Receiver, str]) -> None:
    receiver, webhook_url = receiver_server
    port = free_port()
    env = {**os.environ, "SMS_SANDBOX_WEBHOOK_TOKEN": TOKEN}
    command = [
        sys.executable,
        "-m",
        "mpp_devstack.sms_sandbox",
        "--port",
        str(port),
        "--webhook-url",
        webhook_url,
    ]
    command += ["--hang-seconds", "3", "--log-level", "warning"]
    process = await asyncio.create_subprocess_exec(*command, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    if (await client.get(f"{base_url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            provider = TwilioProvider(
                client,
                account_sid=ACCOUNT_SID,
                auth_token="token",
                from_="MPPKUKAR",
                status_callback_url="http://notify.test/dlr",
                base_url=base_url,
                timeout=0.5,
            )
            result = await provider.send("msg-real", "+6281234560001", "Halo")
            assert result.accepted and result.status == "sending"
            for _ in range(100):
                if receiver.reports:
                    break
                await asyncio.sleep(0.05)
            assert receiver.reports == [
                {
                    "reference": "msg-real",
                    "provider_message_id": result.provider_message_id,
                    "status": "delivered",
                    "error_code": None,
                }
            ]
            assert receiver.authorizations == [f"Bearer {TOKEN}"]

            # 0004 outlasts the client's timeout: a temporary error that may have reached the provider
            with pytest.raises(TemporaryProviderError) as caught:
                await provider.send("msg-hang", "+6281234560004", "Halo")
            assert caught.value.error_code == "timeout" and caught.value.maybe_accepted

            listed = (await client.get(f"{base_url}/_sandbox/messages")).json()
            assert [m["reference"] for m in listed] == ["msg-real"]
            assert isinstance(result, SendResult)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
