"""The outbox relay on the real broker and database: nothing lost, duplicates absorbed by the inbox."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from pydantic import TypeAdapter

from mpp_contracts.base import IntegrationEvent
from mpp_devstack._proc import free_port
from mpp_devstack.faults import TcpGate
from mpp_devstack.infra import Infra
from mpp_kit.consumer import InboxConsumer, subscribe
from mpp_kit.db import create_pool, migrate
from mpp_kit.outbox import enqueue
from mpp_kit.relay import OutboxRelay


class ParcelRegistered(IntegrationEvent):
    parcel: str


MARKER = "marker"


async def read_records(
    bootstrap: str, topic: str, enough: Callable[[list[Any]], bool], timeout: float = 30
) -> list[Any]:
    """The records of `topic` from its start, in each partition's order, until `enough(records so far)`."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while not enough(found):
                found.append(await consumer.getone())
    finally:
        await consumer.stop()
    return found


async def read_until_marker(bootstrap: str, topic: str, timeout: float = 30) -> list[tuple[dict, dict]]:
    """Every event on `topic` up to the marker, published last on the same partition: once the marker is read,
    anything else the relay did is read too, without waiting a fixed time."""
    records = await read_records(
        bootstrap,
        topic,
        lambda found: bool(found) and json.loads(found[-1].value or b"{}").get("parcel") == MARKER,
        timeout,
    )
    return [(json.loads(r.value or b"{}"), {k: v.decode() for k, v in r.headers}) for r in records]


def parcels(found: list[tuple[dict, dict]]) -> list[str]:
    return [event["parcel"] for event, _ in found if event["parcel"] != MARKER]


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
            # One key, so one partition: the order on the topic is the order of the outbox.
            await enqueue(conn, topic, "parcels", ParcelRegistered(parcel=name))


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


HOLD_DELETES = 0x4D505032


async def test_relay_process_killed_after_the_ack_before_the_delete_loses_nothing_and_inbox_absorbs_duplicates(
    infra: Infra, database: str, pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    """A relay in its own process is SIGKILLed mid-run, at the moment it deletes a batch: the test holds that
    DELETE on a lock (a trigger) and kills the process from outside, without touching the relay's code."""
    names = [f"parcel-{i:02}" for i in range(30)]
    await register_parcels(pool, topic_name, names)
    await pool.execute(
        f"""
        CREATE FUNCTION hold_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock_shared({HOLD_DELETES}); RETURN NULL; END $$;
        CREATE TRIGGER hold_deletes BEFORE DELETE ON outbox EXECUTE FUNCTION hold_deletes();
        """
    )
    # Like any server, PostgreSQL notices a vanished client within this interval and rolls its statement back.
    await pool.execute(
        f'ALTER DATABASE "{database.rsplit("/", 1)[-1]}" SET client_connection_check_interval = 200'
    )
    holder = await asyncpg.connect(database)
    await holder.execute("SELECT pg_advisory_lock($1)", HOLD_DELETES)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("relay_process.py")),
        database,
        infra.kafka_bootstrap,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:

        async def deleting() -> bool:
            return bool(
                await pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event = 'advisory' AND query LIKE 'DELETE FROM outbox%'"
                )
            )

        await eventually(deleting, timeout=30)
        batch = {
            r["event_id"] for r in await pool.fetch("SELECT event_id FROM outbox WHERE lease IS NOT NULL")
        }
        assert len(batch) == 10, "the relay is deleting its first batch"
        # It deletes only what the broker acknowledged: the whole batch is on the topic already.
        reader = AIOKafkaConsumer(
            topic_name, bootstrap_servers=infra.kafka_bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await reader.start()
        try:
            async with asyncio.timeout(20):
                on_topic: set[uuid.UUID] = set()
                while not batch <= on_topic:
                    on_topic.add(uuid.UUID(json.loads((await reader.getone()).value or b"{}")["event_id"]))
        finally:
            await reader.stop()
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()

    await eventually(lambda: _no_relay_connections(pool, database), timeout=20)
    await holder.close()  # releases the lock: a DELETE still waiting now would go through
    await pool.execute("DROP TRIGGER hold_deletes ON outbox")
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 30, "no row deleted by the killed relay"

    # A new relay takes the rows over once their lease expires, publishes them again and deletes them.
    survivor = OutboxRelay(database, pool, infra.kafka_bootstrap, lease_s=1, poll_interval_s=0.2)
    await survivor.start()
    try:
        await eventually(lambda: _outbox_empty(pool), timeout=20)
        await register_parcels(pool, topic_name, [MARKER])
        on_topic_events = await read_until_marker(infra.kafka_bootstrap, topic_name)
    finally:
        await survivor.stop()
    published = parcels(on_topic_events)
    assert sorted(published) == sorted(names + names[:10]), "every event at least once; the acked batch twice"

    broker = KafkaBroker(infra.kafka_bootstrap, logger=None)
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
        await eventually(lambda: consumer.processed + consumer.duplicates == len(published) + 1, timeout=30)
    assert consumer.duplicates == 10
    effects = await pool.fetch("SELECT parcel FROM effect WHERE parcel <> $1 ORDER BY parcel", MARKER)
    assert [r["parcel"] for r in effects] == names, "each event has exactly one effect"


async def _no_relay_connections(pool: asyncpg.Pool, database: str) -> bool:
    """Only the test's own connections are left on its database (the killed relay's are gone)."""
    others = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event = 'advisory'",
        database.rsplit("/", 1)[-1],
    )
    return others == 0


async def test_relay_keeps_rows_with_the_error_while_the_broker_refuses_and_publishes_once_it_answers(
    infra: Infra, database: str, pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    host, _, port = infra.kafka_bootstrap.split(",")[0].rpartition(":")
    broker_door = TcpGate(host, int(port), port=free_port())  # closed: connections refused
    relay = OutboxRelay(database, pool, f"127.0.0.1:{broker_door.port}", poll_interval_s=0.2)
    await relay.start()  # the broker does not answer: not an error, the relay connects later
    try:
        await register_parcels(pool, topic_name, ["waiting"])

        async def retried_with_backoff() -> bool:
            row = await pool.fetchrow(
                "SELECT attempts, last_error, next_attempt_at > now() AS later FROM outbox"
            )
            return row is not None and row["attempts"] >= 2 and row["last_error"] is not None and row["later"]

        await eventually(retried_with_backoff, timeout=20)
        row = await pool.fetchrow("SELECT last_error, lease FROM outbox")
        assert "KafkaConnectionError" in row["last_error"] and row["lease"] is None

        await broker_door.open()
        await eventually(lambda: _outbox_empty(pool), timeout=30)
        await register_parcels(pool, topic_name, [MARKER])
        found = await read_until_marker(infra.kafka_bootstrap, topic_name)
    finally:
        await relay.stop()
        await broker_door.close()
    assert parcels(found) == ["waiting"], "published once the broker answered, and once only"


async def test_rows_are_published_by_polling_when_the_listen_connection_is_terminated(
    infra: Infra, database: str, pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    poll_interval_s = 1.0
    relay = OutboxRelay(database, pool, infra.kafka_bootstrap, poll_interval_s=poll_interval_s)
    listening = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = $1"
    name = database.rsplit("/", 1)[-1]
    await relay.start()
    try:
        await eventually(lambda: _fetch_pid(pool, listening, name), timeout=10)
        first = await pool.fetchval(listening, name)
        assert await pool.fetchval("SELECT pg_terminate_backend($1)", first)
        await register_parcels(pool, topic_name, ["after-terminate"])  # its NOTIFY has no listener
        started = asyncio.get_running_loop().time()
        await eventually(lambda: _outbox_empty(pool), timeout=10)
        assert asyncio.get_running_loop().time() - started < poll_interval_s + 1.0
        # The listener comes back on a new connection.
        await eventually(lambda: _fetch_pid(pool, listening, name, not_pid=first), timeout=10)
        await register_parcels(pool, topic_name, [MARKER])
        found = await read_until_marker(infra.kafka_bootstrap, topic_name)
    finally:
        await relay.stop()
    assert parcels(found) == ["after-terminate"]


async def _fetch_pid(pool: asyncpg.Pool, query: str, name: str, not_pid: int | None = None) -> bool:
    pid = await pool.fetchval(query, name)
    return pid is not None and pid != not_pid


async def record_effect(conn: asyncpg.Connection, event: ParcelRegistered) -> None:
    await conn.execute("INSERT INTO effect VALUES ($1, $2)", event.event_id, event.parcel)


async def _outbox_empty(pool: asyncpg.Pool) -> bool:
    return await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_relay_wakes_on_notify_and_carries_the_writers_trace(
    infra: Infra, database: str, pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    tracer = TracerProvider().get_tracer("test")
    # A long polling interval: only NOTIFY can make the relay publish within the test's few seconds.
    relay = OutboxRelay(database, pool, infra.kafka_bootstrap, poll_interval_s=30)
    await relay.start()
    listening = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = $1"
    await eventually(lambda: _fetch_pid(pool, listening, database.rsplit("/", 1)[-1]), timeout=10)
    with tracer.start_as_current_span("submit") as span:
        await register_parcels(pool, topic_name, ["traced"])
        trace_id = f"{span.get_span_context().trace_id:032x}"
    try:
        await eventually(lambda: _outbox_empty(pool), timeout=10)
        await register_parcels(pool, topic_name, [MARKER])
        [(event, headers), _marker] = await read_until_marker(infra.kafka_bootstrap, topic_name)
    finally:
        await relay.stop()
    assert event["parcel"] == "traced"
    assert headers["traceparent"].split("-")[1] == trace_id
    assert trace.get_current_span() is not None


async def read_events(bootstrap: str, topic: str, count: int) -> list[tuple[str, str]]:
    """(key, parcel) of the first `count` records on `topic`, in each partition's order."""
    records = await read_records(bootstrap, topic, lambda found: len(found) >= count, timeout=60)
    return [((r.key or b"").decode(), json.loads(r.value or b"{}")["parcel"]) for r in records]


async def test_two_relays_side_by_side_publish_each_keys_events_in_the_order_they_were_written(
    infra: Infra, database: str, pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    """Two replicas of a service, each with its relay, on one outbox: an application's events (one key) reach
    its partition in the order of the outbox, whoever publishes them."""
    keys = [f"application-{k}" for k in range(8)]
    rounds = 30
    async with pool.acquire() as conn:
        for i in range(rounds):
            for key in keys:
                async with conn.transaction():
                    await enqueue(conn, topic_name, key, ParcelRegistered(parcel=f"{i:03d}"))
    relays = [
        OutboxRelay(database, pool, infra.kafka_bootstrap, batch_size=5, poll_interval_s=0.05, linger_s=0)
        for _ in range(2)
    ]
    for relay in relays:
        await relay.start(background=False)  # both producers connected first: the loops start together
    for relay in relays:
        await relay.start()
    try:
        await eventually(lambda: _outbox_empty(pool), timeout=60)
        found = await read_events(infra.kafka_bootstrap, topic_name, rounds * len(keys))
    finally:
        for relay in relays:
            await relay.stop()
    assert all(relay.published > 0 for relay in relays), "both relays took part"
    for key in keys:
        seen = [parcel for k, parcel in found if k == key]
        assert seen == sorted(seen), f"{key} out of order: {seen}"


async def test_an_event_waiting_for_its_retry_holds_back_the_later_events_of_its_key_only(
    infra: Infra, database: str, pool: asyncpg.Pool, topic_name: str
) -> None:
    async with pool.acquire() as conn:
        for key, parcel in [("a", "a1"), ("a", "a2"), ("b", "b1")]:
            async with conn.transaction():
                await enqueue(conn, topic_name, key, ParcelRegistered(parcel=parcel))
        # a1's publish failed: it waits for its next attempt, as the relay's release leaves it.
        await conn.execute(
            "UPDATE outbox SET attempts = 1, next_attempt_at = now() + interval '1 hour' WHERE key = 'a'"
            " AND id = (SELECT min(id) FROM outbox)"
        )
    relay = OutboxRelay(database, pool, infra.kafka_bootstrap)
    await relay.start(background=False)
    try:
        assert await relay.relay_once() == 1  # b1 only: a2 may not overtake a1
        await pool.execute("UPDATE outbox SET next_attempt_at = now() WHERE key = 'a'")
        assert await relay.relay_once() == 2
        found = await read_events(infra.kafka_bootstrap, topic_name, 3)
    finally:
        await relay.stop()
    assert [parcel for key, parcel in found if key == "a"] == ["a1", "a2"]
