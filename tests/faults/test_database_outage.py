"""PostgreSQL going away under a consumer and an HTTP app: an outage is waited out, never a lost message or a 500.

The real database sits behind a `TcpGate`: closing it is what the service sees when the server stops (new
connections refused, open ones reset), while the session's server keeps running for the other tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from mpp_contracts.base import IntegrationEvent
from mpp_devstack.faults import TcpGate
from mpp_devstack.infra import Infra
from mpp_kit import http as kit_http
from mpp_kit.consumer import InboxConsumer, subscribe
from mpp_kit.db import create_pool, migrate


class SmsRequested(IntegrationEvent):
    message: str
    segments: int


def requested(message: str, segments: int = 1) -> bytes:
    return SmsRequested(message=message, segments=segments).model_dump_json().encode()


@pytest.fixture
async def gate(database: str) -> AsyncIterator[TcpGate]:
    where = urlsplit(database)
    opened = await TcpGate(where.hostname or "127.0.0.1", where.port or 5432).open()
    yield opened
    await opened.close()


def through(gate: TcpGate, dsn: str) -> str:
    where = urlsplit(dsn)
    user = f"{where.username}@" if where.username else ""
    return urlunsplit(where._replace(netloc=f"{user}127.0.0.1:{gate.port}"))


@pytest.fixture
async def gated_pool(database: str, gate: TcpGate) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database)
    async with await create_pool(database) as direct:
        await direct.execute("CREATE TABLE sms (message text)")
    async with await create_pool(through(gate, database)) as pool:
        yield pool


async def publish(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"one-partition")  # order is observable
    finally:
        await producer.stop()


async def read_until(bootstrap: str, topic: str, last: bytes, timeout: float = 30) -> list[bytes]:
    """Every value of `topic` up to and including `last` (the marker published after everything else)."""
    reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await reader.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(timeout):
            while last not in values:
                values.append((await reader.getone()).value or b"")
    finally:
        await reader.stop()
    return values


async def test_events_consumed_while_the_database_is_down_are_processed_once_after_it_returns(
    infra: Infra, database: str, gate: TcpGate, gated_pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    async def send_sms(conn: asyncpg.Connection, event: SmsRequested) -> None:
        if event.segments > 1:
            raise ValueError("a message longer than one segment")  # poison: its own fault
        await conn.execute("INSERT INTO sms VALUES ($1)", event.message)

    broker = KafkaBroker(infra.kafka_bootstrap, logger=None)
    consumer = InboxConsumer(
        name="sms-sender",
        topic=topic_name,
        parse=TypeAdapter(SmsRequested).validate_json,
        handler=send_sms,
        pool=lambda: gated_pool,
        broker=broker,
        max_attempts=2,  # before the fix two deliveries during the outage were enough to lose the message
        retry_backoff_s=0.05,
        outage_pause_s=0.5,
    )
    subscribe(consumer, group_id=f"g-{topic_name}")
    poison, last_poison = requested("too long", segments=2), requested("also too long", segments=3)
    async with broker:
        await broker.start()
        await publish(infra.kafka_bootstrap, topic_name, [requested("before")])
        await eventually(lambda: consumer.processed == 1)

        await gate.close()
        await publish(
            infra.kafka_bootstrap, topic_name, [requested("during-1"), poison, requested("during-2")]
        )
        # Several deliveries of the same message during the outage, each of which spent an attempt before.
        await eventually(lambda: consumer.outages >= 4)
        assert consumer.processed == 1 and consumer.dead_lettered == 0
        await gate.open()

        await publish(infra.kafka_bootstrap, topic_name, [requested("after"), last_poison])
        dead = await read_until(infra.kafka_bootstrap, f"{topic_name}.dlq", last_poison)
        await eventually(lambda: consumer.processed == 4)

    assert dead == [poison, last_poison], "only the messages failing on their own are dead-lettered"
    async with await create_pool(database) as direct:
        sent = [r["message"] for r in await direct.fetch("SELECT message FROM sms ORDER BY message")]
    assert sent == ["after", "before", "during-1", "during-2"], "every SMS once, none lost"
    assert consumer.duplicates == 0


async def test_http_answers_503_with_retry_after_while_the_database_is_down(
    gate: TcpGate, gated_pool: asyncpg.Pool
) -> None:
    @asynccontextmanager
    async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    async def ready() -> dict[str, bool]:
        return {"database": True}

    app = kit_http.create_app("outage test", lifespan=no_lifespan, readiness=ready)

    @app.get("/count")
    async def count() -> dict[str, int]:
        return {"sms": await gated_pool.fetchval("SELECT count(*) FROM sms")}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        assert (await client.get("/count")).json() == {"sms": 0}
        await gate.close()
        down = await client.get("/count")
        await gate.open()
        back = await client.get("/count")
        metrics = (await client.get("/metrics")).text

    assert down.status_code == 503
    assert down.headers["Retry-After"].isdigit()
    assert down.json()["error"]["code"] == "dependency_unavailable"
    assert back.status_code == 200
    assert 'route="/count",status="503"' in metrics and 'route="/count",status="500"' not in metrics
