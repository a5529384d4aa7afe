"""The outbox relay on the real broker and database: nothing lost, duplicates absorbed by the inbox."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from pydantic import TypeAdapter

from mpp_contracts.base import IntegrationEvent
from mpp_devstack.infra import Infra
from mpp_kit.consumer import InboxConsumer, subscribe
from mpp_kit.db import create_pool, migrate
from mpp_kit.outbox import enqueue
from mpp_kit.relay import OutboxRelay


class ParcelRegistered(IntegrationEvent):
    parcel: str


async def read_all(
    bootstrap: str, topic: str, expected: int, timeout: float = 20
) -> list[tuple[bytes, dict]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[tuple[bytes, dict]] = []
    try:
        async with asyncio.timeout(timeout):
            while len(found) < expected:
                batch = await consumer.getmany(timeout_ms=300)
                for records in batch.values():
                    found += [(r.value, {k: v.decode() for k, v in r.headers}) for r in records]
        await asyncio.sleep(0.5)  # anything beyond what we expect would show up now
        for records in (await consumer.getmany(timeout_ms=300)).values():
            found += [(r.value, {k: v.decode() for k, v in r.headers}) for r in records]
    finally:
        await consumer.stop()
    return found


@pytest.fixture
async def pool(database: str):
    await migrate(database)
    async with await create_pool(database) as p:
        await p.execute("CREATE TABLE parcel (name text PRIMARY KEY)")
        await p.execute("CREATE TABLE effect (event_id uuid, parcel text)")
        yield p


async def register_parcels(pool: asyncpg.Pool, topic: str, names: list[str]) -> None:
    for name in names:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO parcel VALUES ($1)", name)
            await enqueue(conn, topic, name, ParcelRegistered(parcel=name))


async def test_enqueue_refuses_to_run_outside_a_transaction(pool: asyncpg.Pool, topic_name: str) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await enqueue(conn, topic_name, "k", ParcelRegistered(parcel="x"))


async def test_rolled_back_business_change_publishes_nothing(pool: asyncpg.Pool, topic_name: str) -> None:
    with pytest.raises(ZeroDivisionError):
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO parcel VALUES ('p')")
            await enqueue(conn, topic_name, "p", ParcelRegistered(parcel="p"))
            1 / 0  # noqa: B018
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_relay_killed_between_publish_and_delete_loses_nothing_and_inbox_absorbs_duplicate(
    infra: Infra, database: str, pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    names = [f"parcel-{i}" for i in range(5)]
    await register_parcels(pool, topic_name, names)

    crashing = OutboxRelay(database, pool, infra.kafka_bootstrap, lease_s=1)
    await crashing.start(background=False)  # one pass, driven by hand

    async def crash(*_args: object) -> None:
        raise SystemExit("relay killed after the broker acked, before the rows were deleted")

    crashing._delete = crash  # type: ignore[method-assign,assignment]
    with pytest.raises(SystemExit):
        await crashing.relay_once()
    await crashing.stop()
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 5, "rows must survive the crash"

    # A new relay takes the rows over once their lease expires, publishes them again and deletes them.
    await asyncio.sleep(1.2)
    survivor = OutboxRelay(database, pool, infra.kafka_bootstrap, lease_s=1)
    await survivor.start()
    await eventually(lambda: _outbox_empty(pool), timeout=20)
    await survivor.stop()

    on_topic = await read_all(infra.kafka_bootstrap, topic_name, expected=10)
    assert sorted(json.loads(v)["parcel"] for v, _ in on_topic) == sorted(names * 2)

    broker = KafkaBroker(infra.kafka_bootstrap)
    consumer = InboxConsumer(
        name="parcel-counter",
        topic=topic_name,
        parse=TypeAdapter(ParcelRegistered).validate_json,
        handler=record_effect,
        pool=lambda: pool,
        broker=broker,
    )
    subscribe(consumer, group_id=f"g-{topic_name}")
    async with broker:
        await broker.start()
        await eventually(lambda: _count(pool, 5), timeout=20)
        await eventually(lambda: consumer.duplicates == 5, timeout=20)
    effects = await pool.fetch("SELECT parcel FROM effect ORDER BY parcel")
    assert [r["parcel"] for r in effects] == sorted(names), "each event has exactly one effect"


async def record_effect(conn: asyncpg.Connection, event: ParcelRegistered) -> None:
    await conn.execute("INSERT INTO effect VALUES ($1, $2)", event.event_id, event.parcel)


async def _outbox_empty(pool: asyncpg.Pool) -> bool:
    return await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def _count(pool: asyncpg.Pool, n: int) -> bool:
    return await pool.fetchval("SELECT count(*) FROM effect") >= n


async def test_relay_wakes_on_notify_and_carries_the_writers_trace(
    infra: Infra, database: str, pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    tracer = TracerProvider().get_tracer("test")
    # A long polling interval: only NOTIFY can make the relay publish within the test's few seconds.
    relay = OutboxRelay(database, pool, infra.kafka_bootstrap, poll_interval_s=30)
    await relay.start()
    await asyncio.sleep(0.5)  # let the LISTEN connection come up
    with tracer.start_as_current_span("submit") as span:
        await register_parcels(pool, topic_name, ["traced"])
        trace_id = f"{span.get_span_context().trace_id:032x}"
    try:
        await eventually(lambda: _outbox_empty(pool), timeout=10)
    finally:
        await relay.stop()
    [(value, headers)] = await read_all(infra.kafka_bootstrap, topic_name, expected=1)
    assert json.loads(value)["parcel"] == "traced"
    assert headers["traceparent"].split("-")[1] == trace_id
    assert trace.get_current_span() is not None
