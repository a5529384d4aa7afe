"""Never twice: one SMS per (event, template), with notify as a real process on the real broker and database.

- notify dies right after the provider took the SMS and before the answer is recorded (notify started through
  the test-only launcher ``crashing_notify``, whose providers exit the process as soon as a send returns, and
  a SIGKILL while the sandbox's slow number 0005 holds the request): after a restart the message is not sent
  again; it stays `sending` until a report or the sweep;
- the topic is replayed, by re-publishing the same events and by resetting notify's consumer-group offsets
  to the beginning: no new SMS.

The events are published straight to `routing.decision.v1`, as routing would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from mpp_contracts.routing import ApplicationRouted
from mpp_contracts.topics import INTAKE_APPLICATION, ROUTING_DECISION
from mpp_devstack.platform import Platform
from mpp_kit.sealing import PHONE, seal
from tests.notify.crashing_notify import CRASH_EXIT_CODE

pytestmark = pytest.mark.slow

GROUPS = {"notify-routing": ROUTING_DECISION.name, "notify-intake": INTAKE_APPLICATION.name}


def routed(phone: str, key: str) -> ApplicationRouted:
    application_id = uuid4()
    return ApplicationRouted(
        application_id=application_id,
        tracking_code="KKR-" + uuid4().hex[:4].upper() + "-" + uuid4().hex[:4].upper(),
        origin_site_id="loa-kulu",
        origin_site_name="Mini MPP Kecamatan Loa Kulu",
        service_code="DUKCAPIL-AKTA-LAHIR",
        service_name="Penerbitan Akta Kelahiran",
        outcome="local",
        expected_completion=date(2026, 12, 7),
        applicant_first_name="Siti",
        sealed_phone=seal(phone, key, purpose=PHONE, bound_to=application_id),
    )


async def publish(platform: Platform, *events: ApplicationRouted) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                ROUTING_DECISION.name,
                event.model_dump_json().encode(),
                key=str(event.application_id).encode(),
            )
    finally:
        await producer.stop()


def notify_dsn(platform: Platform) -> str:
    base, _, _ = platform.pg_admin_dsn.rpartition("/")
    return f"{base}/{platform.db_prefix}_notify"


async def sql(platform: Platform, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(notify_dsn(platform))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def message_of(platform: Platform, event: ApplicationRouted) -> asyncpg.Record | None:
    rows = await sql(platform, "SELECT * FROM sms_message WHERE event_id = $1", event.event_id)
    return rows[0] if rows else None


async def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


REPOSITORY = Path(__file__).parents[2]


def exited(platform: Platform, name: str) -> Callable[[], Any]:
    async def check() -> int | None:
        return platform.processes[name].proc.poll()

    return check


async def test_crash_between_the_provider_call_and_its_record_sends_once(
    platform: Platform, platform_secrets: dict[str, str]
) -> None:
    phone = "+6281299770001"
    event = routed(phone, platform_secrets["contact_sealing_key"])

    async def nothing_else_to_send() -> bool:  # the crash must be on our message, not on another test's
        return not await sql(platform, "SELECT 1 FROM sms_message WHERE status = 'created'")

    await wait_for(nothing_else_to_send, "earlier messages to be sent", timeout=60)
    platform.restart(
        "notify", {"PYTHONPATH": str(REPOSITORY)}, module="tests.notify.crashing_notify:create_app"
    )
    try:
        await publish(platform, event)
        assert await wait_for(exited(platform, "notify"), "notify to crash after the provider call") == (
            CRASH_EXIT_CODE
        )
        row = await message_of(platform, event)
        assert row is not None
        assert (row["status"], row["provider_message_id"]) == (
            "sending",
            None,
        )  # the answer was never recorded
        (sms,) = platform.sms_to(phone)  # ... but the provider has the message
        assert sms["reference"] == str(row["id"])
    finally:
        # A fast sweep so that this test can watch it settle the message; the event may be redelivered too.
        platform.restart("notify", {"SMS_SWEEP_INTERVAL_S": "0.5"})
    await asyncio.sleep(1.5)  # several dispatch passes (0.5 s) and sweeps after the restart
    assert len(platform.sms_to(phone)) == 1
    row = await message_of(platform, event)
    assert row is not None and row["status"] in ("sending", "delivered")  # delivered: the report was retried
    assert len(await sql(platform, "SELECT 1 FROM sms_message WHERE event_id = $1", event.event_id)) == 1

    if row["status"] == "sending":  # 72 hours later, the sweep says what we know: probably not delivered
        await sql(
            platform,
            "UPDATE sms_message SET updated_at = now() - interval '73 hours' WHERE id = $1",
            row["id"],
        )

        async def swept() -> bool:
            current = await message_of(platform, event)
            return current is not None and current["status"] == "temporary_failure"

        await wait_for(swept, "the 72-hour sweep", timeout=10)
    assert len(platform.sms_to(phone)) == 1


async def test_sigkill_while_the_provider_holds_the_request_sends_once(
    platform: Platform, platform_secrets: dict[str, str]
) -> None:
    phone = "+6281299770005"  # 0005: the sandbox answers after 2 s
    event = routed(phone, platform_secrets["contact_sealing_key"])
    await publish(platform, event)

    async def sending() -> bool:
        row = await message_of(platform, event)
        return row is not None and row["status"] == "sending"

    await wait_for(sending, "the send to start")
    await asyncio.sleep(0.5)  # the request is at the sandbox now, which holds it for 2 s
    platform.kill("notify")
    try:
        # The sandbox finishes the request after the client is gone: it has the SMS, notify never heard so.
        async def received() -> bool:
            return bool(platform.sms_to(phone))

        await wait_for(received, "the sandbox to accept the SMS", timeout=10)
    finally:
        platform.restart("notify")
    await asyncio.sleep(1.5)  # several dispatch passes after the restart
    assert len(platform.sms_to(phone)) == 1
    row = await message_of(platform, event)
    assert row is not None and row["status"] in ("sending", "delivered")


async def test_republished_events_send_nothing_new(
    platform: Platform, platform_secrets: dict[str, str]
) -> None:
    phone = "+6281299771001"
    event = routed(phone, platform_secrets["contact_sealing_key"])
    await publish(platform, event)

    async def delivered() -> bool:
        row = await message_of(platform, event)
        return row is not None and row["status"] == "delivered"

    await wait_for(delivered, "the SMS to be delivered")
    await publish(platform, event, event)  # the same event id, twice more
    marker = routed("+6281299771002", platform_secrets["contact_sealing_key"])
    await publish(platform, marker)  # same partition order is not guaranteed: wait for a later event instead
    await wait_for(lambda: message_of(platform, marker), "a later event to be consumed")
    await asyncio.sleep(1)
    assert len(platform.sms_to(phone)) == 1
    assert len(await sql(platform, "SELECT 1 FROM sms_message WHERE event_id = $1", event.event_id)) == 1


async def test_replaying_the_topics_from_the_beginning_sends_nothing_new(
    platform: Platform, platform_secrets: dict[str, str]
) -> None:
    phone = "+6281299772001"
    event = routed(phone, platform_secrets["contact_sealing_key"])
    await publish(platform, event)
    await wait_for(lambda: message_of(platform, event), "the SMS to be created")
    await wait_for(lambda: asyncio.to_thread(platform.sms_to, phone), "the SMS to reach the sandbox")
    sandbox_before = sandbox_total(platform)
    rows_before = len(await sql(platform, "SELECT 1 FROM sms_message"))

    platform.stop(["notify"])  # a clean stop: the consumers leave their groups
    try:
        replayed = await reset_offsets(platform.kafka_bootstrap)
        assert replayed[ROUTING_DECISION.name] >= 1
    finally:
        platform.restart("notify")
    await wait_for(
        lambda: caught_up(platform.kafka_bootstrap), "notify to consume the topics again", timeout=60
    )
    await asyncio.sleep(1)
    assert sandbox_total(platform) == sandbox_before
    assert len(await sql(platform, "SELECT 1 FROM sms_message")) == rows_before
    assert len(platform.sms_to(phone)) == 1


def sandbox_total(platform: Platform) -> int:
    return len(httpx.get(f"{platform.url('sms-sandbox')}/_sandbox/messages", timeout=5).json())


async def reset_offsets(bootstrap: str) -> dict[str, int]:
    """Commit offset 0 for every partition of notify's topics, as `kafka-consumer-groups --reset-offsets
    --to-earliest` would; returns how many records each topic holds from there."""
    held: dict[str, int] = {}
    for group, topic in GROUPS.items():
        partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(partitions)
            beginnings = await consumer.beginning_offsets(partitions)
            ends = await consumer.end_offsets(partitions)
            await consumer.commit({tp: beginnings[tp] for tp in partitions})
            held[topic] = sum(ends[tp] - beginnings[tp] for tp in partitions)
        finally:
            await consumer.stop()
    return held


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        return [p["partition"] for p in described["partitions"]]
    finally:
        await admin.close()


async def caught_up(bootstrap: str) -> bool:
    """Every partition of notify's topics committed up to its end by notify's groups."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        for group, topic in GROUPS.items():
            committed = await admin.list_consumer_group_offsets(group)
            partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
            ends = await probe.end_offsets(partitions)
            for tp in partitions:
                done = committed.get(tp)
                if ends[tp] and (done is None or done.offset < ends[tp]):
                    return False
        return True
    finally:
        await probe.stop()
        await admin.close()
