"""The dispatcher on the real database, through the sandbox provider (in-process) and notify's own webhook:
statuses, retries with backoff then technical failure, failover and demotion, never twice."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from notify.dispatch import RetryPolicy
from notify.providers.base import SendResult
from notify.providers.selection import HealthPolicy, send_limiter
from notify.quiet_hours import QuietHours


def seconds_until(moment: datetime) -> float:
    return (moment - datetime.now(UTC)).total_seconds()


class Down:
    """A transport for a provider that cannot be reached (the request never leaves: safe to fail over)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        raise httpx.ConnectError("connection refused", request=request)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def answering(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body, headers=headers))
    )


# ------------------------------------------------------------------ statuses through the sandbox


async def test_accepted_then_delivered_by_the_report_and_sent_once(stack: Any) -> None:
    to = stack.number("0001")
    message_id = await stack.new_message(to)
    dispatcher = stack.dispatcher()
    assert await dispatcher.dispatch_once() == 1
    row = await stack.row(message_id)
    assert row["status"] == "sending" and row["provider"] == "twilio"
    assert row["provider_message_id"].startswith("SM")  # the provider's id is kept for its reports
    await stack.reports_done()
    assert await stack.status(message_id) == "delivered"
    assert await stack.published(message_id) == ["created", "sending", "delivered"]
    (sms,) = await stack.sandbox_messages(to)
    assert sms["reference"] == str(message_id)
    assert await dispatcher.dispatch_once() == 0


async def test_0002_is_a_permanent_failure_with_no_failover(stack: Any) -> None:
    message_id = await stack.new_message(stack.number("0002"))
    await stack.dispatcher(stack.twilio(), stack.zenziva()).dispatch_once()
    row = await stack.row(message_id)
    assert (row["status"], row["last_error"], row["provider"]) == ("permanent_failure", "21211", "twilio")
    assert [r["provider"] for r in stack.state.requests] == ["twilio"]  # the number is bad everywhere


async def test_0003_ends_temporary_failure_from_the_undelivered_report(stack: Any) -> None:
    message_id = await stack.new_message(stack.number("0003"))
    await stack.dispatcher().dispatch_once()
    await stack.reports_done()
    row = await stack.row(message_id)
    assert (row["status"], row["last_error"]) == ("temporary_failure", "30003")


async def test_zenziva_sent_then_delivered_matched_by_the_provider_id(stack: Any) -> None:
    message_id = await stack.new_message(stack.number("0001"))
    await stack.dispatcher(stack.zenziva()).dispatch_once()
    await stack.reports_done()
    row = await stack.row(message_id)
    assert row["provider"] == "zenziva" and row["provider_message_id"]
    (report,) = stack.state.reports
    assert report["report"]["reference"] is None and report["status_code"] == 200
    assert row["status"] == "delivered"
    assert await stack.published(message_id) == ["created", "sending", "sent", "delivered"]


# ------------------------------------------------------------------ retries


async def test_unavailable_provider_is_retried_with_bounded_backoff_then_technical_failure(
    stack: Any,
) -> None:
    message_id = await stack.new_message(stack.number("0006"))  # 503 every time
    dispatcher = stack.dispatcher(retry=RetryPolicy(max_attempts=3, base_s=2, max_s=5))
    waits = []
    for attempt in (1, 2):
        assert await dispatcher.dispatch_once() == 1
        row = await stack.row(message_id)
        assert (row["status"], row["attempts"]) == ("created", attempt)
        assert "20503" in row["last_error"]
        waits.append(seconds_until(row["next_attempt_at"]))
        assert await dispatcher.dispatch_once() == 0  # not due yet
        await stack.make_due(message_id)
    assert waits[0] == pytest.approx(4, abs=0.5)  # 2 * 2**1
    assert waits[1] == pytest.approx(5, abs=0.5)  # 2 * 2**2 = 8, capped at 5
    assert await dispatcher.dispatch_once() == 1
    row = await stack.row(message_id)
    assert row["status"] == "technical_failure" and row["last_error"].startswith("retries exhausted")
    assert [r["outcome"] for r in stack.state.requests] == ["unavailable"] * 3
    assert await stack.published(message_id) == [
        "created",
        "sending",
        "sending",
        "sending",
        "technical_failure",
    ]


async def test_retry_after_is_honoured(stack: Any) -> None:
    message_id = await stack.new_message(stack.number("0001"))
    busy = answering(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "30"})
    await stack.dispatcher(stack.twilio(client=busy), retry=RetryPolicy(base_s=1, max_s=60)).dispatch_once()
    row = await stack.row(message_id)
    assert row["status"] == "created"
    assert seconds_until(row["next_attempt_at"]) == pytest.approx(30, abs=1)


async def test_lost_answer_is_never_retried_nor_failed_over(stack: Any) -> None:
    """The provider took the message but its answer was lost (read timeout): it may have it, so the message
    waits in `sending` for a report or the sweep; here the sandbox's report settles it."""
    message_id = await stack.new_message(stack.number("0001"))
    lost = httpx.AsyncClient(transport=LostAnswer(stack.sandbox_app))
    dispatcher = stack.dispatcher(stack.twilio(client=lost), stack.zenziva())
    await dispatcher.dispatch_once()
    assert (await stack.row(message_id))["provider"] == "twilio"
    await stack.make_due(message_id)
    assert await dispatcher.dispatch_once() == 0
    await stack.reports_done()
    assert await stack.status(message_id) == "delivered"
    assert [r["provider"] for r in stack.state.requests] == ["twilio"]


async def test_a_hanging_provider_is_not_resent(stack: Any) -> None:
    message_id = await stack.new_message(stack.number("0001"))
    timeout = httpx.AsyncClient(transport=httpx.MockTransport(raise_read_timeout))
    dispatcher = stack.dispatcher(stack.twilio(client=timeout), stack.zenziva())
    await dispatcher.dispatch_once()
    await stack.make_due(message_id)
    assert await dispatcher.dispatch_once() == 0
    assert (await stack.row(message_id))["status"] == "sending"  # until a report or the 72-hour sweep
    assert stack.state.requests == []


def raise_read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer", request=request)


class LostAnswer(httpx.AsyncBaseTransport):
    """Delivers the request to the sandbox, then loses its answer."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._inner.handle_async_request(request)
        raise httpx.ReadTimeout("answer lost", request=request)


async def test_an_adapter_bug_ends_technical_failure_and_is_not_resent(stack: Any) -> None:
    class Broken:
        name = "broken"
        calls = 0

        async def send(self, message_id: str, to_e164: str, body: str) -> SendResult:
            Broken.calls += 1
            raise KeyError("sid")

    message_id = await stack.new_message(stack.number("0001"))
    dispatcher = stack.dispatcher(Broken(), stack.zenziva())
    await dispatcher.dispatch_once()
    await stack.make_due(message_id)
    await dispatcher.dispatch_once()
    row = await stack.row(message_id)
    assert (row["status"], row["last_error"]) == ("technical_failure", "adapter error: KeyError")
    assert Broken.calls == 1 and stack.state.requests == []


# ------------------------------------------------------------------ failover and demotion


async def test_fails_over_to_the_next_provider_when_the_first_cannot_be_reached(stack: Any) -> None:
    down = Down()
    message_id = await stack.new_message(stack.number("0001"))
    await stack.dispatcher(stack.twilio(client=down.client()), stack.zenziva()).dispatch_once()
    await stack.reports_done()
    row = await stack.row(message_id)
    assert (row["status"], row["provider"]) == ("delivered", "zenziva")
    assert down.calls == 1
    assert [m["provider"] for m in await stack.sandbox_messages()] == ["zenziva"]


async def test_fails_over_when_the_first_refuses_for_a_reason_of_its_own(stack: Any) -> None:
    refused = answering(401, {"code": 20003, "message": "Authenticate", "status": 401})
    message_id = await stack.new_message(stack.number("0001"))
    await stack.dispatcher(stack.twilio(client=refused), stack.zenziva()).dispatch_once()
    assert (await stack.row(message_id))["provider"] == "zenziva"


async def test_all_providers_down_is_one_attempt_then_a_retry(stack: Any) -> None:
    message_id = await stack.new_message(stack.number("0006"))
    await stack.dispatcher(stack.twilio(), stack.zenziva()).dispatch_once()
    row = await stack.row(message_id)
    assert (row["status"], row["attempts"]) == ("created", 1)
    assert "twilio" in row["last_error"] and "zenziva" in row["last_error"]
    assert [r["provider"] for r in stack.state.requests] == ["twilio", "zenziva"]


async def test_a_failing_provider_is_demoted_and_the_next_one_goes_first(stack: Any) -> None:
    down = Down()
    policy = HealthPolicy(window_s=60, min_samples=3, error_rate=0.5, step=25)
    dispatcher = stack.dispatcher(stack.twilio(client=down.client()), stack.zenziva(), policy=policy)
    ids = [await stack.new_message(stack.number("0001"), template="siap_diambil") for _ in range(3)]
    ids += [await stack.new_message(stack.number("0001")) for _ in range(3)]
    for _ in ids:
        await dispatcher.dispatch_once(batch=1)
    assert down.calls == 3  # demoted after 3 errors out of 3: the next three went straight to Zenziva
    assert [s.name for s in dispatcher.selector.ranked()] == ["zenziva", "twilio"]
    assert {(await stack.row(i))["provider"] for i in ids} == {"zenziva"}
    assert len(await stack.sandbox_messages()) == 6


async def test_a_bad_number_does_not_count_against_the_provider(stack: Any) -> None:
    dispatcher = stack.dispatcher(stack.twilio(), stack.zenziva(), policy=HealthPolicy(min_samples=2))
    for _ in range(3):
        await stack.new_message(stack.number("0002"))
        await dispatcher.dispatch_once()
    assert dispatcher.selector.state("twilio").penalty == 0


async def test_rate_limit_spaces_the_sends(stack: Any) -> None:
    for _ in range(4):
        await stack.new_message(stack.number("0001"))
    dispatcher = stack.dispatcher(rates={"twilio": send_limiter(10, burst=1)})
    started = time.monotonic()
    assert await dispatcher.dispatch_once() == 4
    assert time.monotonic() - started >= 0.28
    times = sorted(datetime.fromisoformat(m["received_at"]) for m in await stack.sandbox_messages())
    assert (times[-1] - times[0]).total_seconds() >= 0.28


# ------------------------------------------------------------------ quiet hours


def quiet_now(urgent: tuple[str, ...] = ()) -> QuietHours:
    """Quiet hours around the current time (a one-hour window that contains now, in WITA)."""
    now = datetime.now(UTC).astimezone(QuietHours().zone)
    start = (now - timedelta(minutes=30)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(minutes=30)).time().replace(second=0, microsecond=0)
    return QuietHours.of((start, end), urgent=urgent)


async def test_quiet_hours_hold_non_urgent_messages_and_let_urgent_ones_through(stack: Any) -> None:
    quiet_id = await stack.new_message(stack.number("0001"))
    urgent_id = await stack.new_message(stack.number("0001"), template="diteruskan_ke_pusat")
    dispatcher = stack.dispatcher(quiet=quiet_now(urgent=("diteruskan_ke_pusat",)))
    assert await dispatcher.dispatch_once() == 1
    assert await stack.status(urgent_id) != "created"
    assert await stack.status(quiet_id) == "created"


async def test_a_retry_is_not_scheduled_inside_quiet_hours(stack: Any) -> None:
    message_id = await stack.new_message(stack.number("0006"))
    quiet = quiet_now()
    await stack.make_due(message_id)
    dispatcher = stack.dispatcher(quiet=quiet)
    await dispatcher._send_in_span(  # a send that started just before the quiet hours
        await stack.pool.fetchrow(
            "UPDATE sms_message SET status = 'sending', attempts = 1 WHERE id = $1 RETURNING *", message_id
        ),
        _NoSpan(),
    )
    row = await stack.row(message_id)
    assert row["status"] == "created"
    end = quiet.quiet_until(datetime.now(UTC))
    assert end is not None and row["next_attempt_at"] == end


class _NoSpan:
    def set_attribute(self, key: str, value: object) -> None:
        pass


# ------------------------------------------------------------------ the loop


async def test_running_dispatcher_sends_what_is_created_and_stops_cleanly(stack: Any) -> None:
    dispatcher = stack.dispatcher()
    await dispatcher.start()
    try:
        assert dispatcher.running
        ids = [await stack.new_message(stack.number("0001")) for _ in range(25)]  # more than one batch
        dispatcher.wake()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if {await stack.status(i) for i in ids} == {"delivered"}:
                break
            await asyncio.sleep(0.05)
        assert {await stack.status(i) for i in ids} == {"delivered"}
        assert len(await stack.sandbox_messages()) == 25
    finally:
        await dispatcher.stop()
    assert not dispatcher.running


async def test_a_slow_message_does_not_hold_the_others(stack: Any) -> None:
    dispatcher = stack.dispatcher()
    # Held 3 s at the sandbox (0.3 s elsewhere in these tests): far longer than the fast one may take on a loaded
    # machine, so "still at the provider" is a fact, not a race.
    stack.state.slow_seconds = 3.0
    slow = await stack.new_message(stack.number("0005"))
    await dispatcher.start()
    try:
        await asyncio.sleep(0.1)
        fast = await stack.new_message(stack.number("0001"))
        dispatcher.wake()
        for _ in range(100):
            if await stack.status(fast) == "delivered":
                break
            await asyncio.sleep(0.01)
        assert await stack.status(fast) == "delivered"
        assert await stack.status(slow) == "sending"  # still at the provider
    finally:
        await dispatcher.stop()
    assert await stack.status(slow) in ("sending", "delivered")
