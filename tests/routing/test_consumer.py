"""Routing's consumer on the real broker, as create_app wires it: a site missing from the catalogue is retried (not
decided wrongly), and replaying the topic changes nothing.

The intake topic is replaced by a topic of this test's own and the consumer group by one of its own, so a platform
running in the same session is not disturbed; the outbox relay publishes nothing (the events are read back from
the outbox)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

import routing.app
from mpp_contracts.topics import Topic
from mpp_devstack.infra import Infra
from mpp_kit.runtime import ServiceRuntime
from routing.context import RoutingContext
from routing.settings import RoutingSettings
from tests.routing.conftest import AKTA, CENTRAL, KOTA_BANGUN, PASPOR, TABANG, at, submitted
from tests.routing.test_changes import change


class SilentRelay:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.running = False

    async def start(self, *, background: bool = True) -> None:
        self.running = True

    async def stop(self) -> None:
        self.running = False


class OwnGroupRuntime(ServiceRuntime):
    group = f"routing-test-{uuid.uuid4().hex[:8]}"

    def consume(
        self, topic: Any, model: Any, *, name: str, group_id: str | None = None, concerns: Any = None
    ) -> Any:
        return super().consume(topic, model, name=name, group_id=self.group, concerns=concerns)


@pytest.fixture
async def running(
    infra: Infra, database: str, topic_name: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[RoutingContext, AIOKafkaProducer, str]]:
    monkeypatch.setattr("mpp_kit.runtime.OutboxRelay", SilentRelay)
    monkeypatch.setattr(routing.app, "ServiceRuntime", OwnGroupRuntime)
    monkeypatch.setattr(routing.app, "INTAKE_APPLICATION", Topic(topic_name))
    settings = RoutingSettings(
        database_url=SecretStr(database),
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        consumer_max_attempts=100,
        consumer_retry_backoff_s=0.05,
    )
    app = routing.app.create_app(settings)
    ctx: RoutingContext = app.state.context
    ctx.clock = lambda: at(submitted(AKTA.code).submitted_on, 7)
    async with app.router.lifespan_context(app):
        await ctx.services.wait_loaded(60)
        await ctx.sites.wait_loaded(60)
        ctx.services.items.update({s.code: s for s in (AKTA, PASPOR)})
        # The central site is missing: also from what other tests' catalogs left on the shared topic.
        ctx.sites.items.pop(CENTRAL.slug, None)
        ctx.sites.items.update({s.slug: s for s in (TABANG, KOTA_BANGUN)})
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
        await producer.start()
        try:
            yield ctx, producer, topic_name
        finally:
            await producer.stop()


async def test_a_missing_site_is_retried_and_a_replay_changes_nothing(running, eventually) -> None:
    ctx, producer, topic = running
    pool = ctx.database()

    async def publish(*events: Any) -> None:
        for event in events:
            await producer.send_and_wait(
                topic, event.model_dump_json().encode(), key=str(event.application_id).encode()
            )

    async def decided(application_id: uuid.UUID) -> bool:
        return bool(
            await pool.fetchval(
                "SELECT count(*) FROM routing_decision WHERE application_id = $1", application_id
            )
        )

    forwarded = submitted(PASPOR.code)
    await publish(forwarded)
    await asyncio.sleep(2)  # attempts fail: Tabang's case cannot be booked without the central site
    assert not await decided(forwarded.application_id)
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0

    ctx.sites.items[CENTRAL.slug] = CENTRAL
    await eventually(lambda: decided(forwarded.application_id))
    local = submitted(AKTA.code)
    moved = change(forwarded.application_id, "reschedule")
    await publish(local, moved)
    await eventually(
        lambda: pool.fetchval("SELECT count(*) = 1 FROM appointment_change WHERE kind = 'rescheduled'")
    )
    state = "SELECT (SELECT count(*) FROM outbox), (SELECT sum(booked) FROM appointment_day),"
    state += (
        " (SELECT string_agg(starts_at::text, ',') FROM appointment), (SELECT count(*) FROM routing_decision)"
    )
    before = tuple(await pool.fetchrow(state))
    assert before[0] == 5 and before[1] == 1 and before[3] == 2  # routed x2, forwarded, rescheduled x2

    # Replay every event, then one new application as a marker: once it is decided, the replay has been read.
    marker = submitted(AKTA.code)
    await publish(forwarded, local, moved, marker)
    await eventually(lambda: decided(marker.application_id))
    after = tuple(await pool.fetchrow(state))
    assert (after[0], after[1], after[2], after[3]) == (before[0] + 1, before[1], before[2], before[3] + 1)
