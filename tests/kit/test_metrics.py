"""The kit's metrics (mpp_kit.metrics): HTTP latency by route template (never the raw path), the outbox backlog
and its oldest row's age, each consumer message's result, dead letters and lag, and the read models' progress."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import httpx
import pytest
from aiokafka import TopicPartition
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pydantic import TypeAdapter

from mpp_contracts.base import IntegrationEvent
from mpp_kit import http as kit_http
from mpp_kit.consumer import InboxConsumer
from mpp_kit.db import create_pool, migrate
from mpp_kit.outbox import enqueue
from mpp_kit.readmodel import ReadModel
from mpp_kit.relay import OutboxRelay


class ParcelWeighed(IntegrationEvent):
    parcel: str
    grams: int


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@asynccontextmanager
async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


async def always_ready() -> dict[str, bool]:
    return {}


async def test_http_latency_is_observed_per_route_template_and_the_raw_path_never_shows() -> None:
    app = kit_http.create_app("metrics", lifespan=no_lifespan, readiness=always_ready)

    @app.get("/parcels/track/{tracking_code}")
    async def track(tracking_code: str) -> dict[str, str]:
        return {"tracking_code": tracking_code}

    route = "/parcels/track/{tracking_code}"
    before = value("http_request_duration_seconds_count", method="GET", route=route)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/parcels/track/7F3K-9Q2M")).status_code == 200
        assert (await client.get("/no/such/7F3K-9Q2M")).status_code == 404
        exposition = (await client.get("/metrics")).text
    assert value("http_request_duration_seconds_count", method="GET", route=route) == before + 1
    assert value("http_request_duration_seconds_bucket", method="GET", route=route, le="+Inf") >= 1
    assert value("http_requests_total", method="GET", route="unmatched", status="404") >= 1
    assert "7F3K-9Q2M" not in exposition


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database)
    async with await create_pool(database) as p:
        yield p


async def test_outbox_backlog_and_oldest_age_come_from_the_table(pool: asyncpg.Pool, topic_name: str) -> None:
    relay = OutboxRelay("unused", pool, "127.0.0.1:1")  # refresh_metrics reads the table only
    await relay.refresh_metrics()
    assert value("outbox_backlog") == 0 and value("outbox_oldest_age_seconds") == 0
    async with pool.acquire() as conn, conn.transaction():
        for grams in (1, 2, 3):
            await enqueue(conn, topic_name, "parcels", ParcelWeighed(parcel="p", grams=grams))
    await pool.execute(
        "UPDATE outbox SET created_at = now() - interval '90 seconds' WHERE id = (SELECT min(id) FROM outbox)"
    )
    await relay.refresh_metrics()
    assert value("outbox_backlog") == 3
    assert 90 <= value("outbox_oldest_age_seconds") < 120
    await pool.execute("DELETE FROM outbox")
    await relay.refresh_metrics()
    assert value("outbox_backlog") == 0 and value("outbox_oldest_age_seconds") == 0


class FakeBroker:
    """Takes dead letters instead of Kafka."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, value: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        self.published.append((topic, value))


class FakeKafkaConsumer:
    """What the consumer asks of aiokafka: the high watermark of a partition at its last fetch."""

    def __init__(self, ends: dict[TopicPartition, int]) -> None:
        self.ends = ends

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.ends.get(partition)


def message(topic: str, offset: int, body: bytes, end: int) -> Any:
    record = SimpleNamespace(topic=topic, partition=1, offset=offset, key=b"k", value=body, headers=[])
    return SimpleNamespace(
        raw_message=record, body=body, consumer=FakeKafkaConsumer({TopicPartition(topic, 1): end})
    )


async def test_consumer_counts_results_dead_letters_and_lag(pool: asyncpg.Pool, topic_name: str) -> None:
    async def handle(conn: asyncpg.Connection, event: ParcelWeighed) -> None:
        if event.grams < 0:
            raise ValueError("negative weight")

    broker = FakeBroker()
    consumer = InboxConsumer(
        name="weigher",
        topic=topic_name,
        parse=TypeAdapter(ParcelWeighed).validate_json,
        handler=handle,
        pool=lambda: pool,
        broker=cast(Any, broker),
        max_attempts=2,
        retry_backoff_s=0,
    )
    good = ParcelWeighed(parcel="a", grams=5).model_dump_json().encode()
    negative = ParcelWeighed(parcel="b", grams=-1).model_dump_json().encode()

    await consumer.process(message(topic_name, 0, good, end=10))
    assert value("consumer_lag", consumer="weigher", topic=topic_name, partition="1") == 9
    await consumer.process(message(topic_name, 0, good, end=10))  # redelivered: the inbox has it
    await consumer.process(message(topic_name, 1, b"not json", end=10))  # unreadable: straight to the DLQ
    with pytest.raises(ValueError):
        await consumer.process(message(topic_name, 2, negative, end=3))
    await consumer.process(message(topic_name, 2, negative, end=3))  # second attempt: the DLQ

    results = {
        result: value("consumer_messages_total", consumer="weigher", topic=topic_name, result=result)
        for result in ("processed", "duplicate", "retried", "dead_lettered", "outage")
    }
    assert results == {"processed": 1, "duplicate": 1, "retried": 1, "dead_lettered": 2, "outage": 0}
    assert value("consumer_dead_letters_total", consumer="weigher", topic=topic_name) == 2
    assert [topic for topic, _ in broker.published] == [f"{topic_name}.dlq"] * 2
    assert value("consumer_lag", consumer="weigher", topic=topic_name, partition="1") == 0


def test_read_model_exports_its_size_and_when_it_is_loaded(topic_name: str) -> None:
    copy = ReadModel(topic_name, ParcelWeighed, lambda e: e.grams, "127.0.0.1:1")
    assert value("read_model_loaded", topic=topic_name) == 0
    copy._apply(b"a", ParcelWeighed(parcel="a", grams=1).model_dump_json().encode())
    copy._apply(b"b", ParcelWeighed(parcel="b", grams=2).model_dump_json().encode())
    copy._apply(b"a", None)  # a tombstone
    copy._mark_loaded()
    assert value("read_model_items", topic=topic_name) == 1
    assert value("read_model_loaded", topic=topic_name) == 1
