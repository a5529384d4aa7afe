"""Consumers on the real broker: redelivery after a failure has one effect; poison goes to the DLQ."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from mpp_contracts.base import IntegrationEvent
from mpp_devstack.infra import Infra
from mpp_kit.consumer import InboxConsumer, subscribe
from mpp_kit.db import create_pool, migrate


class ParcelWeighed(IntegrationEvent):
    parcel: str
    grams: int


@pytest.fixture
async def pool(database: str):
    await migrate(database)
    async with await create_pool(database) as p:
        await p.execute("CREATE TABLE effect (parcel text, grams int)")
        yield p


async def publish(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"same-key")  # one partition: order is observable
    finally:
        await producer.stop()


def weighed(parcel: str, grams: int) -> bytes:
    return ParcelWeighed(parcel=parcel, grams=grams).model_dump_json().encode()


def consumer_for(pool: asyncpg.Pool, broker: KafkaBroker, topic: str, handler, **kw) -> InboxConsumer:
    consumer = InboxConsumer(
        name="weigher",
        topic=topic,
        parse=TypeAdapter(ParcelWeighed).validate_json,
        handler=handler,
        pool=lambda: pool,
        broker=broker,
        retry_backoff_s=0.05,
        **kw,
    )
    subscribe(consumer, group_id=f"g-{topic}")
    return consumer


async def effects(pool: asyncpg.Pool) -> list[str]:
    return [r["parcel"] for r in await pool.fetch("SELECT parcel FROM effect ORDER BY parcel")]


async def test_handler_failing_mid_way_is_redelivered_and_has_exactly_one_effect(
    infra: Infra, pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    calls: list[str] = []

    async def flaky(conn: asyncpg.Connection, event: ParcelWeighed) -> None:
        calls.append(event.parcel)
        await conn.execute("INSERT INTO effect VALUES ($1, $2)", event.parcel, event.grams)
        if calls.count(event.parcel) == 1:
            raise RuntimeError("scale reading refused after the write")  # the write is rolled back

    await publish(infra.kafka_bootstrap, topic_name, [weighed("a", 10), weighed("b", 20)])
    broker = KafkaBroker(infra.kafka_bootstrap)
    consumer = consumer_for(pool, broker, topic_name, flaky)
    async with broker:
        await broker.start()
        await eventually(lambda: consumer.processed >= 2)
    assert calls == ["a", "a", "b", "b"], "each message redelivered once after its failure, in order"
    assert await effects(pool) == ["a", "b"]
    assert consumer.dead_lettered == 0


async def test_offsets_are_committed_only_after_the_work(
    infra: Infra, pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    """A restarted consumer in the same group starts after the last processed message, not before or beyond."""

    async def ok(conn: asyncpg.Connection, event: ParcelWeighed) -> None:
        await conn.execute("INSERT INTO effect VALUES ($1, $2)", event.parcel, event.grams)

    await publish(infra.kafka_bootstrap, topic_name, [weighed("a", 1)])
    broker = KafkaBroker(infra.kafka_bootstrap)
    first = consumer_for(pool, broker, topic_name, ok)
    async with broker:
        await broker.start()
        await eventually(lambda: first.processed >= 1)
    await publish(infra.kafka_bootstrap, topic_name, [weighed("b", 2)])
    broker = KafkaBroker(infra.kafka_bootstrap)
    second = consumer_for(pool, broker, topic_name, ok)
    async with broker:
        await broker.start()
        await eventually(lambda: second.processed >= 1)
        await asyncio.sleep(0.5)
    assert second.processed == 1 and second.duplicates == 0, "the committed offset was past 'a'"
    assert await effects(pool) == ["a", "b"]


@pytest.mark.parametrize("poison", ["unreadable", "always-failing"])
async def test_poison_message_goes_to_the_dlq_and_the_messages_behind_it_are_processed(
    infra: Infra, pool: asyncpg.Pool, topic_name: str, poison: str, eventually
) -> None:
    async def handler(conn: asyncpg.Connection, event: ParcelWeighed) -> None:
        if event.grams < 0:
            raise ValueError("negative weight")
        await conn.execute("INSERT INTO effect VALUES ($1, $2)", event.parcel, event.grams)

    bad = b'{"parcel": "broken", "grams": "heavy"' if poison == "unreadable" else weighed("broken", -1)
    await publish(infra.kafka_bootstrap, topic_name, [weighed("before", 1), bad, weighed("after", 2)])
    broker = KafkaBroker(infra.kafka_bootstrap)
    consumer = consumer_for(pool, broker, topic_name, handler, max_attempts=3)
    async with broker:
        await broker.start()
        await eventually(lambda: consumer.processed >= 2)
    assert await effects(pool) == ["after", "before"]
    assert consumer.dead_lettered == 1

    dlq = AIOKafkaConsumer(
        f"{topic_name}.dlq",
        bootstrap_servers=infra.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await dlq.start()
    try:
        record = await asyncio.wait_for(dlq.getone(), 20)
    finally:
        await dlq.stop()
    headers = {k: v.decode() for k, v in record.headers}
    assert record.value == bad
    assert headers["dlq-original-topic"] == topic_name
    assert headers["dlq-consumer"] == "weigher"
    if poison == "unreadable":
        assert headers["dlq-attempts"] == "1" and "unreadable event" in headers["dlq-error"]
    else:
        assert headers["dlq-attempts"] == "3" and "negative weight" in headers["dlq-error"]


async def test_a_poll_of_events_is_handled_in_one_transaction_and_a_bad_one_still_goes_its_own_way(
    infra: Infra, pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    """Forty-three events waiting, one of them always failing: a handful of transactions, not forty-three, in
    order; the bad one goes to the DLQ, the one before it is not done twice and the one after it is done once."""
    # now() is the start of the transaction: the same for every row a transaction writes.
    await pool.execute("CREATE TABLE effect_transaction (parcel text, started timestamptz, seq serial)")
    calls: list[str] = []

    async def handler(conn: asyncpg.Connection, event: ParcelWeighed) -> None:
        calls.append(event.parcel)
        if event.grams < 0:
            raise ValueError("negative weight")
        await conn.execute("INSERT INTO effect VALUES ($1, $2)", event.parcel, event.grams)
        await conn.execute("INSERT INTO effect_transaction VALUES ($1, now())", event.parcel)

    names = [f"p{i:02}" for i in range(40)] + ["q-before", "q-bad", "q-after"]
    await publish(
        infra.kafka_bootstrap, topic_name, [weighed(name, -1 if name == "q-bad" else 1) for name in names]
    )
    broker = KafkaBroker(infra.kafka_bootstrap)
    consumer = consumer_for(pool, broker, topic_name, handler, max_attempts=2)
    async with broker:
        await broker.start()
        await eventually(lambda: consumer.processed >= 42 and consumer.dead_lettered == 1)
    transactions = await pool.fetchval("SELECT count(DISTINCT started) FROM effect_transaction")
    assert transactions <= 5, f"{transactions} transactions for 43 events"
    order = [r["parcel"] for r in await pool.fetch("SELECT parcel FROM effect_transaction ORDER BY seq")]
    assert order == [name for name in names if name != "q-bad"], "handled once each, in the records' order"
    assert calls.count("q-before") == 1 and calls.count("q-after") == 1 and calls.count("q-bad") == 2
