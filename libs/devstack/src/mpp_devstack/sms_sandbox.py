"""Local sandbox SMS provider: speaks Twilio's and Zenziva's send APIs, keeps what it got, reports delivery.

Real providers cannot be reached from development machines or CI, so notify's adapters are pointed here.

Endpoints
---------
- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``: Twilio Messages API shape. HTTP Basic auth whose
  user is the AccountSid of the path (any token), form fields ``To`` (E.164), ``Body``, ``From`` or
  ``MessagingServiceSid``, optional ``StatusCallback``. Answers 201 with Twilio's Message JSON (``sid``
  ``SM...``, ``status`` ``queued``), or Twilio's error JSON ``{"code", "message", "more_info", "status"}``.
  Our message id is read from the ``reference`` query parameter of ``StatusCallback``.
- ``POST /api/sendsms/``: Zenziva shape, JSON or form body with ``userkey``, ``passkey`` (any values, but
  present), ``to`` (``08...``, ``62...`` or ``+62...``) and ``message``. Answers
  ``{"messageId", "to", "status": "1", "text": "Success"}`` or ``{"status": "0", "text": <reason>}``. Zenziva
  takes no client reference, so its reports carry ``reference: null`` and only ``provider_message_id``.
- ``GET /_sandbox/messages`` (optional ``?to=`` in any of the forms above): accepted messages, oldest first,
  each with ``provider``, ``reference``, ``provider_message_id``, ``to`` (E.164), ``body``, ``sender``,
  ``account``, ``headers`` (all request headers, ``traceparent`` included; ``authorization`` redacted),
  ``received_at``, ``special``. ``DELETE /_sandbox/messages`` forgets messages, attempts and reports.
- ``GET /_sandbox/requests``: every send attempt with its ``outcome`` (accepted, refused, unavailable,
  hung); ``GET /_sandbox/reports``: every delivery report posted, with the webhook's answer.
- ``GET /healthz``.

Delivery reports
----------------
After accepting a message, and when a webhook URL is configured, a background task posts
``{"reports": [{"reference", "provider_message_id", "status", "error_code"}]}`` to it with
``Authorization: Bearer <webhook token>``; ``status`` is ``delivered``, ``undelivered`` or ``failed``. A
transport error or a 5xx answer is retried for about a minute (8 attempts, 0.5 s doubling to 30 s apart, longer
when the answer's Retry-After asks so), as real providers retry callbacks (Twilio's connection overrides
``#rc=..&rp=..``): a webhook restarting or without its database must not lose reports.

Special numbers (by the last four digits of the recipient, like GOV.UK Notify's research-mode numbers)
-----------------------------------------------------------------------------------------------------
======  =====================================================================================================
 0001   accepted, then reported ``delivered`` (what every other number does too)
 0002   refused at send as an invalid number: Twilio 400 / error 21211, Zenziva 400 ``status "0"``
        "Nomor tujuan tidak valid" (a permanent failure)
 0003   accepted, then reported ``undelivered`` with error ``30003`` (handset unreachable: temporary)
 0004   the request hangs for ``hang_seconds`` (30 s by default, longer than any client timeout), then gets
        504; nothing is accepted. The wait ends early when the client disconnects or the app shuts down.
 0005   slow: the answer comes after ``slow_seconds`` (2 s), then accepted and reported ``delivered``
 0006   503 Service Unavailable at send (temporary)
======  =====================================================================================================

Run it: ``uv run python -m mpp_devstack.sms_sandbox --port 8099 --webhook-url http://127.0.0.1:8004/...``
with the webhook token in the environment variable ``SMS_SANDBOX_WEBHOOK_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

__all__ = ["SandboxState", "create_app", "main"]

REFERENCE_PARAM = "reference"  # the query parameter notify's Twilio adapter puts in StatusCallback
SPECIAL_DELIVERED, SPECIAL_INVALID, SPECIAL_UNDELIVERED = "0001", "0002", "0003"
SPECIAL_HANG, SPECIAL_SLOW, SPECIAL_UNAVAILABLE = "0004", "0005", "0006"
_REPORT_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


def to_e164(raw: str) -> str:
    """Indonesian number in any usual form -> ``+62...`` (lenient: the sandbox checks shape, not validity)."""
    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        return "+" + digits
    if digits.startswith("0"):
        return "+62" + digits[1:]
    if digits.startswith("8"):
        return "+62" + digits
    return "+" + digits


@dataclass
class SandboxState:
    webhook_url: str | None
    webhook_token: str | None
    slow_seconds: float
    hang_seconds: float
    report_delay: float
    client: httpx.AsyncClient | None = None
    owns_client: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def http(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=5.0)
            self.owns_client = True
        return self.client

    def spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def wait_idle(self, within: float = 10.0) -> None:
        """Wait until every pending delivery report has been posted (for tests)."""
        async with asyncio.timeout(within):
            while self.tasks:
                await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def aclose(self) -> None:
        self.closing.set()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)
        if self.client is not None and self.owns_client:
            await self.client.aclose()
            self.client = None

    async def hang(self, request: Request) -> None:
        """Hold the request for ``hang_seconds``, or until the client gives up or the app shuts down (so a
        hung request never holds a server's graceful shutdown for long)."""
        deadline = asyncio.get_running_loop().time() + self.hang_seconds
        while not self.closing.is_set() and asyncio.get_running_loop().time() < deadline:
            if await request.is_disconnected():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), 0.1)

    async def post_report(self, report: dict[str, Any]) -> None:
        if not self.webhook_url:
            return
        await asyncio.sleep(self.report_delay)  # a real report comes later than the send answer
        headers = {"Authorization": f"Bearer {self.webhook_token}"} if self.webhook_token else {}
        payload = {"reports": [report]}
        for attempt, delay in enumerate((*_REPORT_RETRY_DELAYS, None), start=1):
            entry: dict[str, Any] = {"attempt": attempt, "report": report, "status_code": None, "error": None}
            self.reports.append(entry)
            try:
                response = await self.http().post(self.webhook_url, json=payload, headers=headers)
                entry["status_code"] = response.status_code
                if response.status_code < 500:
                    return
                asked = response.headers.get("Retry-After", "")
                if delay is not None and asked.isdigit():
                    delay = min(30.0, max(delay, float(asked)))
            except httpx.HTTPError as exc:
                entry["error"] = type(exc).__name__
            if delay is None:
                return
            await asyncio.sleep(delay)


def _special(to: str) -> str | None:
    tail = to[-4:]
    return tail if tail in {"0001", "0002", "0003", "0004", "0005", "0006"} else None


def _headers(request: Request) -> dict[str, str]:
    return {k: ("<redacted>" if k == "authorization" else v) for k, v in request.headers.items()}


def _now() -> datetime:
    return datetime.now(UTC)


async def _form_or_json(request: Request) -> dict[str, str]:
    raw = await request.body()
    ctype = request.headers.get("content-type", "")
    if "json" in ctype:
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _basic_user(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep and user and password else None


def create_app(
    webhook_url: str | None = None,
    webhook_token: str | None = None,
    *,
    webhook_client: httpx.AsyncClient | None = None,
    slow_seconds: float = 2.0,
    hang_seconds: float = 30.0,
    report_delay: float = 0.2,
) -> FastAPI:
    """The sandbox app. ``webhook_client`` lets tests deliver reports in-process (an ``ASGITransport``)."""
    state = SandboxState(
        webhook_url=webhook_url,
        webhook_token=webhook_token,
        slow_seconds=slow_seconds,
        hang_seconds=hang_seconds,
        report_delay=report_delay,
        client=webhook_client,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await state.aclose()

    app = FastAPI(title="SMS sandbox provider", lifespan=lifespan)
    app.state.sandbox = state

    def log_attempt(provider: str, to: str, outcome: str, request: Request) -> None:
        state.requests.append(
            {
                "provider": provider,
                "to": to,
                "outcome": outcome,
                "headers": _headers(request),
                "at": _now().isoformat(),
            }
        )

    def accept(
        request: Request,
        *,
        provider: str,
        to: str,
        body: str,
        sender: str | None,
        account: str,
        reference: str | None,
        provider_message_id: str,
    ) -> None:
        special = _special(to)
        state.messages.append(
            {
                "provider": provider,
                "reference": reference,
                "provider_message_id": provider_message_id,
                "to": to,
                "body": body,
                "sender": sender,
                "account": account,
                "headers": _headers(request),
                "received_at": _now().isoformat(),
                "special": special,
            }
        )
        log_attempt(provider, to, "accepted", request)
        undelivered = special == SPECIAL_UNDELIVERED
        report = {
            "reference": reference,
            "provider_message_id": provider_message_id,
            "status": "undelivered" if undelivered else "delivered",
            "error_code": "30003" if undelivered else None,
        }
        if state.webhook_url:
            state.spawn(state.post_report(report))

    # ---------------------------------------------------------------- Twilio
    def twilio_error(status: int, code: int, message: str) -> JSONResponse:
        return JSONResponse(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status_code=status,
        )

    @app.post("/2010-04-01/Accounts/{account_sid}/Messages.json")
    async def twilio_send(account_sid: str, request: Request) -> Response:
        credentials = _basic_user(request)
        if credentials is None or credentials[0] != account_sid:
            return twilio_error(401, 20003, "Authenticate")
        form = await _form_or_json(request)
        raw_to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From") or None, form.get("MessagingServiceSid") or None
        if not raw_to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not body:
            return twilio_error(400, 21602, "Message body is required.")
        if not sender and not service:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        to = to_e164(raw_to)
        if not raw_to.startswith("+") or not 8 <= len(to) <= 16:
            return twilio_error(400, 21211, "The 'To' number is not a valid phone number.")
        special = _special(to)
        if special == SPECIAL_UNAVAILABLE:
            log_attempt("twilio", to, "unavailable", request)
            return twilio_error(503, 20503, "Service Unavailable")
        if special == SPECIAL_INVALID:
            log_attempt("twilio", to, "refused", request)
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if special == SPECIAL_HANG:
            log_attempt("twilio", to, "hung", request)
            await state.hang(request)
            return twilio_error(504, 20504, "Gateway Timeout")
        if special == SPECIAL_SLOW:
            await asyncio.sleep(state.slow_seconds)

        callback = form.get("StatusCallback")
        reference = None
        if callback:
            reference = dict(parse_qsl(urlsplit(callback).query)).get(REFERENCE_PARAM)
        sid = "SM" + uuid.uuid4().hex
        accept(
            request,
            provider="twilio",
            to=to,
            body=body,
            sender=sender or service,
            account=account_sid,
            reference=reference,
            provider_message_id=sid,
        )
        created = format_datetime(_now(), usegmt=True)
        return JSONResponse(
            {
                "sid": sid,
                "account_sid": account_sid,
                "api_version": "2010-04-01",
                "body": body,
                "date_created": created,
                "date_updated": created,
                "date_sent": None,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": sender,
                "messaging_service_sid": service,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "status": "accepted" if service and not sender else "queued",
                "to": to,
                "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
            },
            status_code=201,
        )

    # ---------------------------------------------------------------- Zenziva
    def zenziva_error(status: int, text: str) -> JSONResponse:
        return JSONResponse({"status": "0", "text": text}, status_code=status)

    @app.post("/api/sendsms/")
    async def zenziva_send(request: Request) -> Response:
        data = await _form_or_json(request)
        userkey, passkey = data.get("userkey", ""), data.get("passkey", "")
        if not userkey or not passkey:
            return zenziva_error(400, "Userkey / Passkey Salah")
        raw_to, message = data.get("to", ""), data.get("message", "")
        if not raw_to or not message:
            return zenziva_error(400, "Parameter to dan message wajib diisi")
        to = to_e164(raw_to)
        special = _special(to)
        if special == SPECIAL_UNAVAILABLE:
            log_attempt("zenziva", to, "unavailable", request)
            return Response("Service Unavailable", status_code=503, media_type="text/plain")
        if special == SPECIAL_INVALID or not 8 <= len(to) <= 16:
            log_attempt("zenziva", to, "refused", request)
            return zenziva_error(400, "Nomor tujuan tidak valid")
        if special == SPECIAL_HANG:
            log_attempt("zenziva", to, "hung", request)
            await state.hang(request)
            return Response("Gateway Timeout", status_code=504, media_type="text/plain")
        if special == SPECIAL_SLOW:
            await asyncio.sleep(state.slow_seconds)
        message_id = uuid.uuid4().hex[:24]
        accept(
            request,
            provider="zenziva",
            to=to,
            body=message,
            sender=None,
            account=userkey,
            reference=None,
            provider_message_id=message_id,
        )
        return JSONResponse({"messageId": message_id, "to": raw_to, "status": "1", "text": "Success"})

    # ---------------------------------------------------------------- inspection
    @app.get("/_sandbox/messages")
    async def list_messages(to: str | None = None) -> list[dict[str, Any]]:
        if to:
            wanted = to_e164(to)
            return [m for m in state.messages if m["to"] == wanted]
        return list(state.messages)

    @app.delete("/_sandbox/messages", status_code=204)
    async def clear_messages() -> Response:
        state.messages.clear()
        state.requests.clear()
        state.reports.clear()
        return Response(status_code=204)

    @app.get("/_sandbox/requests")
    async def list_requests() -> list[dict[str, Any]]:
        return list(state.requests)

    @app.get("/_sandbox/reports")
    async def list_reports() -> list[dict[str, Any]]:
        return list(state.reports)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Local sandbox SMS provider (Twilio and Zenziva shapes)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("SMS_SANDBOX_WEBHOOK_URL"),
        help="where delivery reports are posted (default: $SMS_SANDBOX_WEBHOOK_URL; none: no reports)",
    )
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    app = create_app(
        args.webhook_url,
        os.environ.get("SMS_SANDBOX_WEBHOOK_TOKEN") or None,
        slow_seconds=args.slow_seconds,
        hang_seconds=args.hang_seconds,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
