"""What a crash or a lost answer leaves, and how notify settles it without sending anything twice.

- the rate-limit token comes before the claim: a dispatcher stopped while sends wait for tokens leaves them
  `created`, not `sending`;
- a claim with no provider call in flight (stopped between one provider's refusal and the next one's call) is
  sent again when the dispatcher starts; a claim taken back meanwhile is never called by its old sender;
- a message whose call may have reached the provider is unconfirmed: looked up at the provider when it can be
  asked (Twilio's Message list; the sandbox has no such endpoint, so the test adds one), shown by the ops API
  and the metrics when it cannot, and never re-sent blindly;
- sending waits for the HTTP server (``serving``);
- delivery-report webhooks answer 503 with Retry-After while the database is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from mpp_devstack.faults import TcpGate
from mpp_kit.db import create_pool
from notify import repository
from notify.dispatch import Housekeeping
from notify.providers.base import SendResult, TemporaryProviderError
from notify.providers.selection import send_limiter
from notify.providers.twilio import TwilioProvider
from tests.notify.test_webhooks import twilio_callback

OPS = "/messages"


def auth(stack: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.OPS_TOKEN}"}


async def sent_to(stack: Any, to: str) -> int:
    return len(await stack.sandbox_messages(to))


def add_twilio_message_list(stack: Any) -> None:
    """What the sandbox lacks: Twilio's Message list (GET .../Messages.json?To=), from the sandbox's own record
    (newest first, Twilio's shape and date format)."""
    state = stack.state

    async def message_list(account_sid: str, To: str, PageSize: int = 50) -> dict[str, Any]:
        found = [m for m in reversed(state.messages) if m["to"] == To and m["provider"] == "twilio"]
        return {
            "messages": [
                {
                    "sid": m["provider_message_id"],
                    "to": m["to"],
                    "body": m["body"],
                    "status": "delivered",
                    "direction": "outbound-api",
                    "date_created": format_datetime(datetime.fromisoformat(m["received_at"]), usegmt=True),
                    "error_code": None,
                }
                for m in found[:PageSize]
            ],
            "next_page_uri": None,
            "page_size": PageSize,
        }

    stack.sandbox_app.add_api_route("/2010-04-01/Accounts/{account_sid}/Messages.json", message_list)


class LosesTheAnswer:
    """A provider whose answer never comes back (a timeout after the request went out), though it took it."""

    def __init__(self, provider: TwilioProvider) -> None:
        self.provider = provider

    @property
    def name(self) -> str:
        return self.provider.name

    async def send(self, message_id: str, to_e164: str, body: str) -> SendResult:
        await self.provider.send(message_id, to_e164, body)
        raise TemporaryProviderError(self.name, "timeout", "ReadTimeout", maybe_accepted=True)

    async def look_up(self, message_id: str, to_e164: str, body: str, since: datetime) -> SendResult | None:
        return await self.provider.look_up(message_id, to_e164, body, since)


def looking_up_now() -> Housekeeping:
    return Housekeeping(reconcile_after_s=0)


def metric(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


# ------------------------------------------------------------------ token first, then the claim


async def test_sends_waiting_for_the_rate_limit_are_not_claimed(stack: Any) -> None:
    ids = [await stack.new_message(stack.number("0001")) for _ in range(8)]
    dispatcher = stack.dispatcher(rates={"twilio": send_limiter(4, burst=1)})
    await dispatcher.start()
    await asyncio.sleep(0.6)
    await dispatcher.stop(grace_s=0)  # as abrupt as a stop gets in-process
    statuses = [await stack.status(i) for i in ids]
    sent = len(await stack.sandbox_messages())
    assert 1 <= sent < 8
    assert statuses.count("created") == 8 - sent, "only what reached the provider left `created`"


async def test_a_claim_never_called_is_sent_when_the_dispatcher_starts(stack: Any) -> None:
    to = stack.number("0001")
    message_id = await stack.new_message(
        to, then="UPDATE sms_message SET status = 'sending', attempts = 1 WHERE id = $1"
    )  # claimed, its process stopped between a refusal and the next provider's call
    dispatcher = stack.dispatcher()
    await dispatcher.start()
    try:
        for _ in range(100):
            if await sent_to(stack, to):
                break
            await asyncio.sleep(0.05)
    finally:
        await dispatcher.stop()
    await stack.reports_done()
    assert await sent_to(stack, to) == 1
    assert await stack.status(message_id) == "delivered"


async def test_a_claim_taken_back_while_it_waits_for_the_next_provider_is_not_called(stack: Any) -> None:
    class Down:
        async def send(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

    down = httpx.AsyncClient(transport=httpx.MockTransport(Down().send))
    to = stack.number("0001")
    message_id = await stack.new_message(to)
    zenziva_limiter = send_limiter(2, burst=1)
    assert zenziva_limiter is not None
    await zenziva_limiter.acquire()  # Zenziva's next token is half a second away
    dispatcher = stack.dispatcher(
        stack.twilio(client=down), stack.zenziva(), rates={"zenziva": zenziva_limiter}
    )
    send = asyncio.create_task(dispatcher.dispatch_once())
    for _ in range(100):  # Twilio refused; the message waits for Zenziva's token with no call in flight
        row = await stack.row(message_id)
        if row["status"] == "sending" and row["call_started_at"] is None:
            break
        await asyncio.sleep(0.01)
    assert (row["status"], row["call_started_at"]) == ("sending", None)
    async with stack.pool.acquire() as conn:  # another replica starting re-drives it
        assert await repository.redrive_uncalled(conn, 0) == 1
    await send
    assert await sent_to(stack, to) == 0, "the old sender must not call once the claim was taken back"
    assert await stack.dispatcher(stack.zenziva()).dispatch_once() == 1
    assert await sent_to(stack, to) == 1


# ------------------------------------------------------------------ unconfirmed: looked up, shown, never resent


async def test_an_answer_lost_after_the_provider_took_it_is_found_by_a_lookup(stack: Any) -> None:
    add_twilio_message_list(stack)
    stack.state.webhook_url = None  # no delivery report: only the lookup can tell
    to = stack.number("0001")
    message_id = await stack.new_message(to)
    dispatcher = stack.dispatcher(LosesTheAnswer(stack.twilio()), housekeeping=looking_up_now())
    assert await dispatcher.dispatch_once() == 1
    row = await stack.row(message_id)
    assert (row["status"], row["confirmed_at"], row["provider_message_id"]) == ("sending", None, None)
    assert row["call_started_at"] is not None

    assert await dispatcher.reconcile_once() == {"found": 1, "not_found": 0, "unknown": 0}
    row = await stack.row(message_id)
    assert row["status"] == "delivered" and row["provider_message_id"].startswith("SM")
    assert row["confirmed_at"] is not None
    assert await dispatcher.dispatch_once() == 0
    assert await sent_to(stack, to) == 1


async def test_a_call_that_never_reached_the_provider_is_sent_again_after_the_lookup(stack: Any) -> None:
    add_twilio_message_list(stack)
    to = stack.number("0001")
    message_id = await stack.new_message(
        to,
        then="UPDATE sms_message SET status = 'sending', attempts = 1, provider = 'twilio',"
        " call_started_at = now() - interval '10 minutes' WHERE id = $1",
    )  # claimed and marked, then the process died before the request left
    dispatcher = stack.dispatcher(housekeeping=Housekeeping(reconcile_after_s=60))
    assert await dispatcher.reconcile_once() == {"found": 0, "not_found": 1, "unknown": 0}
    row = await stack.row(message_id)
    assert (row["status"], row["call_started_at"]) == ("created", None)
    await stack.make_due(message_id)
    assert await dispatcher.dispatch_once() == 1
    await stack.reports_done()
    assert await sent_to(stack, to) == 1
    assert await stack.status(message_id) == "delivered"


async def test_a_lookup_waits_until_the_call_is_certainly_over(stack: Any) -> None:
    add_twilio_message_list(stack)
    message_id = await stack.new_message(
        stack.number("0001"),
        then="UPDATE sms_message SET status = 'sending', attempts = 1, provider = 'twilio',"
        " call_started_at = now() - interval '5 seconds' WHERE id = $1",
    )  # a request that timed out on our side may still be processed by the provider
    dispatcher = stack.dispatcher(housekeeping=Housekeeping(reconcile_after_s=60))
    assert await dispatcher.reconcile_once() == {"found": 0, "not_found": 0, "unknown": 0}
    assert await stack.status(message_id) == "sending"


async def test_an_unconfirmed_message_the_provider_cannot_be_asked_about_is_shown_and_kept(
    stack: Any,
) -> None:
    calls: list[httpx.Request] = []

    def no_answer(request: httpx.Request) -> httpx.Response:  # the request went out; no answer ever came
        calls.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    silent = httpx.AsyncClient(transport=httpx.MockTransport(no_answer))
    message_id = await stack.new_message(stack.number("0001"))
    dispatcher = stack.dispatcher(stack.twilio(client=silent), stack.zenziva(), housekeeping=looking_up_now())
    assert await dispatcher.dispatch_once() == 1
    await asyncio.sleep(0.3)
    # The lookup gets no answer either: it cannot tell, the message stays as it is.
    assert await dispatcher.reconcile_once() == {"found": 0, "not_found": 0, "unknown": 1}
    assert metric("sms_unconfirmed_messages") == 1
    age = metric("sms_unconfirmed_oldest_age_seconds")
    assert age is not None and age >= 0.3

    view = (await stack.client.get(f"{OPS}/{message_id}", headers=auth(stack))).json()
    assert view["status"] == "sending" and view["unconfirmed_since"] is not None
    listed = (await stack.client.get(OPS, params={"unconfirmed_for_s": 0.3}, headers=auth(stack))).json()
    assert [m["id"] for m in listed["messages"]] == [str(message_id)]
    fresh_only = await stack.client.get(OPS, params={"unconfirmed_for_s": 3600}, headers=auth(stack))
    assert fresh_only.json()["messages"] == []

    await stack.make_due(message_id)
    assert await dispatcher.dispatch_once() == 0
    sends = [c for c in calls if c.method == "POST"]
    assert len(sends) == 1 and stack.state.requests == [], "never sent again, never failed over"

    await stack.client.post(  # the provider's report settles it after all
        "/delivery-reports",
        json={"reports": [{"reference": str(message_id), "status": "delivered"}]},
        headers={"Authorization": f"Bearer {stack.REPORT_TOKEN}"},
    )
    view = (await stack.client.get(f"{OPS}/{message_id}", headers=auth(stack))).json()
    assert view["status"] == "delivered" and view["unconfirmed_since"] is None
    await dispatcher.reconcile_once()
    assert metric("sms_unconfirmed_messages") == 0


# ------------------------------------------------------------------ Twilio's Message list


def twilio_listing(*pages: dict[str, Any] | int) -> tuple[TwilioProvider, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = pages[len(seen) - 1]
        return httpx.Response(page) if isinstance(page, int) else httpx.Response(200, json=page)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    provider = TwilioProvider(client, account_sid="AC1", auth_token="t", from_="MPP", base_url="https://tw")
    return provider, seen


def resource(body: str, created: datetime, sid: str = "SM1", status: str = "delivered") -> dict[str, Any]:
    return {
        "sid": sid,
        "body": body,
        "status": status,
        "direction": "outbound-api",
        "date_created": format_datetime(created, usegmt=True),
    }


async def test_twilio_lookup_finds_our_text_to_the_number_created_after_the_call() -> None:
    since = datetime.now(UTC)
    older = resource("hello", since - timedelta(hours=1), sid="SMold")
    ours = resource("hello", since + timedelta(seconds=1), sid="SMours")
    provider, seen = twilio_listing(
        {
            "messages": [resource("other", since)],
            "next_page_uri": "/2010-04-01/Accounts/AC1/Messages.json?Page=1",
        },
        {"messages": [ours, older], "next_page_uri": None},
    )
    found = await provider.look_up("id", "+6281255550001", "hello", since)
    assert found is not None and (found.provider_message_id, found.status) == ("SMours", "delivered")
    assert seen[0].url.params["To"] == "+6281255550001"
    assert str(seen[1].url) == "https://tw/2010-04-01/Accounts/AC1/Messages.json?Page=1"


async def test_twilio_lookup_says_not_there_only_after_the_whole_listing() -> None:
    since = datetime.now(UTC)
    provider, _ = twilio_listing(
        {"messages": [resource("hello", since - timedelta(hours=1))], "next_page_uri": None}
    )
    assert await provider.look_up("id", "+6281255550001", "hello", since) is None
    for unanswered in (500, 404, {"unexpected": True}):
        provider, _ = twilio_listing(unanswered)
        with pytest.raises(TemporaryProviderError):
            await provider.look_up("id", "+6281255550001", "hello", since)
    endless = {"messages": [], "next_page_uri": "/2010-04-01/Accounts/AC1/Messages.json?Page=2"}
    provider, seen = twilio_listing(*[endless] * 10)
    with pytest.raises(TemporaryProviderError):
        await provider.look_up("id", "+6281255550001", "hello", since)
    assert len(seen) == 5


# ------------------------------------------------------------------ sending waits for the HTTP server


async def test_nothing_is_sent_before_the_server_serves(stack: Any) -> None:
    await stack.new_message(stack.number("0001"))
    serving = asyncio.Event()
    dispatcher = stack.dispatcher()
    await dispatcher.start(serving=serving.wait)
    try:
        await asyncio.sleep(0.3)
        assert await stack.sandbox_messages() == []
        assert dispatcher.running
        serving.set()
        for _ in range(100):
            if await stack.sandbox_messages():
                break
            await asyncio.sleep(0.02)
    finally:
        await dispatcher.stop()
    assert len(await stack.sandbox_messages()) == 1


async def test_the_first_request_served_starts_the_sending(stack: Any) -> None:
    """The app's own wiring: ``FirstRequest`` in front of the routes notes the first HTTP request."""
    from notify.app import FirstRequest

    middleware = next(m for m in stack.app.user_middleware if m.cls is FirstRequest)
    served: asyncio.Event = middleware.kwargs["served"]
    assert not served.is_set()
    await stack.client.get("/healthz")
    assert served.is_set()


# ------------------------------------------------------------------ reports while the database is down


@pytest.fixture
async def gated_app(stack: Any, database: str) -> AsyncIterator[tuple[TcpGate, httpx.AsyncClient]]:
    where = urlsplit(database)
    gate = await TcpGate(where.hostname or "127.0.0.1", where.port or 5432).open()
    user = f"{where.username}@" if where.username else ""
    through = urlunsplit(where._replace(netloc=f"{user}127.0.0.1:{gate.port}"))
    pool = await create_pool(through)
    app = stack.notify_app()
    app.state.context.pool = pool
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify")
    try:
        yield gate, client
    finally:
        await client.aclose()
        await gate.open()
        pool.terminate()
        await gate.close()


async def test_delivery_reports_answer_503_with_retry_after_while_the_database_is_down(
    stack: Any, gated_app: tuple[TcpGate, httpx.AsyncClient]
) -> None:
    gate, client = gated_app
    message_id = await stack.new_message(
        stack.number("0001"),
        then="UPDATE sms_message SET status = 'sending', call_started_at = now() WHERE id = $1",
    )
    report = {"reports": [{"reference": str(message_id), "status": "delivered"}]}
    headers = {"Authorization": f"Bearer {stack.REPORT_TOKEN}"}
    await gate.close()
    for _ in range(2):  # a connection cut in the pool, then a connection refused
        down = await client.post("/delivery-reports", json=report, headers=headers)
        assert down.status_code == 503, down.text
        assert int(down.headers["Retry-After"]) > 0
    path, body, sig = twilio_callback(stack, message_id, MessageSid="SMx", MessageStatus="delivered")
    twilio = await client.post(
        path,
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig},
    )
    assert twilio.status_code == 503 and "Retry-After" in twilio.headers
    assert await stack.status(message_id) == "sending"

    await gate.open()
    back = await client.post("/delivery-reports", json=report, headers=headers)
    assert back.status_code == 200 and back.json()["applied"] == 1
    assert await stack.status(message_id) == "delivered"


async def test_only_sending_rows_count_as_unconfirmed(stack: Any, notify_db: asyncpg.Pool) -> None:
    await stack.new_message(
        stack.number("0001"),
        then="UPDATE sms_message SET status = 'delivered', call_started_at = now() WHERE id = $1",
    )
    assert await repository.unconfirmed_summary(notify_db) == (0, 0.0)
