"""Notify killed and restarted under a stream of submits, and a provider that never answers: no SMS lost, none
doubled, nothing left unknown without ops seeing it.

Real broker, real database, every service a process (the session's platform; notify is restarted with its usual
environment when a scenario ends). Each scenario prints its
figures (accepted / delivered once / lost / duplicated) before asserting, so `pytest -s` on older code gives
the "before" figures too.

(a) SIGKILL while sends wait for the rate limit (TWILIO_RATE_PER_S=2): after the restart every accepted
    application has its SMS exactly once, and no SMS leaves before the restarted notify's port accepts (its
    delivery report would have nowhere to go).
(b) Delivery reports arriving while notify is down and restarting: the sandbox retries them (as providers
    do), and every message ends `delivered`.
(c) A provider that takes the request and never answers (sandbox number ending 0004): the message is shown
    as unconfirmed by the ops API and the metrics, and it is not sent again (nor failed over).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from mpp_devstack.platform import Platform
from tests.faults.notify_fixtures import (
    Tally,
    accepts,
    e164,
    phone,
    sandbox,
    sql,
    submit_stream,
    within,
)

pytestmark = pytest.mark.slow


def sms_count(platform: Platform, phones: list[str]) -> int:
    wanted = {e164(p) for p in phones}
    return sum(1 for m in sandbox(platform, "messages") if m["to"] in wanted)


def everyone_texted(platform: Platform, tally: Tally) -> Any:
    async def check() -> bool:
        tally.count(platform)
        return tally.lost == 0

    return check


async def ready(platform: Platform) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"{platform.url('notify')}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def sent_before_listening(platform: Platform, timeout: float = 60.0) -> int:
    """Restart the (killed) notify and watch: how many SMS reached the sandbox while its port still refused."""
    port = platform.processes["notify"].port
    baseline = len(sandbox(platform, "messages"))
    platform.restart("notify", wait=False)
    early = 0
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        now = len(sandbox(platform, "messages"))
        if accepts(port):
            break
        early = now - baseline
        await asyncio.sleep(0.02)
    await within(timeout, lambda: ready(platform))
    return early


async def test_sigkill_while_sends_wait_for_the_rate_limit(platform: Platform) -> None:
    platform.restart("notify", {"TWILIO_RATE_PER_S": "2", "ZENZIVA_RATE_PER_S": "2"})
    tally = Tally("a: SIGKILL while sends wait for the rate limit")
    phones = [phone(1, i) for i in range(40)]
    await submit_stream(platform, phones, 20, tally)

    async def some_sent() -> bool:
        return sms_count(platform, phones) >= 4

    await within(60, some_sent)
    sent_at_kill = sms_count(platform, phones)
    platform.kill("notify")
    early = await sent_before_listening(platform)
    await within(90, everyone_texted(platform, tally))
    await asyncio.sleep(3)  # a late duplicate would show by now
    tally.count(platform)
    stuck = await sql(platform, "SELECT count(*) AS n FROM sms_message WHERE status = 'sending'")
    tally.line(sent_at_kill=sent_at_kill, sent_before_port_open=early, sending_at_end=stuck[0]["n"])
    assert len(tally.accepted) == len(phones)
    assert (tally.lost, tally.duplicated) == (0, 0)
    assert early == 0, "the restarted notify sent SMS before its port accepted delivery reports"


async def test_delivery_reports_during_a_restart_reach_every_message(platform: Platform) -> None:
    platform.restart("notify")
    tally = Tally("b: delivery reports while notify restarts")
    # Every sixth number is the sandbox's slow one (0005, 2 s): the kill catches some of those mid-request,
    # so only their (retried) delivery report can tell notify the provider took them.
    phones = [phone(2, i, "0005" if i % 6 == 0 else None) for i in range(36)]

    async def crash_and_restart() -> None:
        await asyncio.sleep(1.5)
        platform.kill("notify")
        await asyncio.sleep(1.0)  # reports keep arriving meanwhile: refused connections
        platform.restart("notify", wait=False)

    await asyncio.gather(submit_stream(platform, phones, 10, tally), crash_and_restart())
    await within(60, lambda: ready(platform))
    numbers = [e164(p) for p in tally.accepted]

    async def all_final() -> bool:
        rows = await sql(
            platform,
            "SELECT count(*) AS n FROM sms_message WHERE phone_e164 = ANY($1::text[]) AND status = 'delivered'",
            numbers,
        )
        return int(rows[0]["n"]) == len(numbers)

    await within(90, all_final)
    await asyncio.sleep(2)
    tally.count(platform)
    statuses = await sql(
        platform,
        "SELECT status, count(*) AS n FROM sms_message WHERE phone_e164 = ANY($1::text[]) GROUP BY status",
        numbers,
    )
    by_status = {r["status"]: r["n"] for r in statuses}
    refused = [r for r in sandbox(platform, "reports") if r["error"] or (r["status_code"] or 0) >= 500]
    tally.line(
        final_delivered=by_status.get("delivered", 0),
        still_sending=by_status.get("sending", 0),
        report_attempts_refused=len(refused),
    )
    assert (tally.lost, tally.duplicated) == (0, 0)
    assert by_status == {"delivered": len(numbers)}


async def test_a_provider_that_never_answers_is_visible_and_not_resent(
    platform: Platform, platform_secrets: dict[str, str]
) -> None:
    platform.restart(
        "notify",
        {"TWILIO_TIMEOUT_S": "1", "SMS_RECONCILE_INTERVAL_S": "0.5", "SMS_RECONCILE_AFTER_S": "1"},
    )
    try:
        await never_answers(platform, platform_secrets)
    finally:
        platform.restart("notify")


async def never_answers(platform: Platform, platform_secrets: dict[str, str]) -> None:
    tally = Tally("c: a provider that never answers")
    hung = phone(3, 10, "0004")
    phones = [phone(3, i) for i in range(10)]
    await submit_stream(platform, [*phones, hung], 10, tally)

    async def attempted() -> bool:
        return any(r["to"] == e164(hung) for r in sandbox(platform, "requests"))

    await within(60, attempted)
    await within(60, everyone_texted(platform, Tally("c", accepted=[p for p in tally.accepted if p != hung])))
    await asyncio.sleep(4)  # the client timeout (1 s), then several reconciliation passes

    headers = {"Authorization": f"Bearer {platform_secrets['notify_ops_token']}"}
    notify = platform.url("notify")
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        own = await client.get(f"{notify}/messages", params={"application_id": tally.application_ids[hung]})
        listed = await client.get(f"{notify}/messages", params={"unconfirmed_for_s": "1"})
        metrics = (await client.get(f"{notify}/metrics")).text
    (view,) = own.json()["messages"]
    unconfirmed_ids = (
        [m["id"] for m in listed.json().get("messages", [])] if listed.status_code == 200 else []
    )
    count, age = (
        metric(metrics, "sms_unconfirmed_messages"),
        metric(metrics, "sms_unconfirmed_oldest_age_seconds"),
    )
    attempts = [r for r in sandbox(platform, "requests") if r["to"] == e164(hung)]
    tally.count(platform)
    tally.line(
        hung_status=view["status"],
        hung_unconfirmed_since=view.get("unconfirmed_since"),
        listed_as_unconfirmed=view["id"] in unconfirmed_ids,
        metric_count=count,
        metric_oldest_age_s=age,
        provider_attempts_for_hung=len(attempts),
    )
    assert view["status"] == "sending" and view.get("unconfirmed_since")
    assert view["id"] in unconfirmed_ids
    assert count is not None and count >= 1 and age is not None and age >= 1
    assert len(attempts) == 1, "a message the provider may have must not be sent again, nor failed over"
    assert tally.lost == 1 and tally.duplicated == 0  # the hung one: nothing reached the sandbox's inbox


def metric(text: str, name: str) -> float | None:
    found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None
