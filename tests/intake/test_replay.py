"""Intake's consumers on the real broker: routing's decisions and the site's inbox are applied once; the same
messages delivered again (a replay of the topics from the beginning) change nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from mpp_contracts.base import IntegrationEvent
from mpp_contracts.routing import ResultReturned
from mpp_contracts.topics import ROUTING_DECISION, site_inbox
from tests.intake.conftest import PASSPORT, Intake
from tests.intake.test_site_day import appointment, forwarded_here, routed, submit


async def snapshot(intake: Intake) -> dict[str, Any]:
    async with intake.context.pool.acquire() as conn:
        return {
            "applications": [dict(r) for r in await conn.fetch("SELECT * FROM application ORDER BY id")],
            "history": await conn.fetchval("SELECT count(*) FROM application_history"),
            "outbox": await conn.fetchval("SELECT count(*) FROM outbox"),
        }


async def status(intake: Intake, application_id: object) -> str | None:
    async with intake.context.pool.acquire() as conn:
        return await conn.fetchval("SELECT status FROM application WHERE id = $1::uuid", str(application_id))


async def test_replayed_decisions_and_inbox_change_nothing(
    intake: Intake, eventually: Callable[..., Awaitable[None]]
) -> None:
    accepted = await submit(intake, PASSPORT)
    decision = routed(intake, accepted, "central", appointment=appointment("mpp-tenggarong"))
    case = forwarded_here(intake)
    result = ResultReturned(
        application_id=accepted["application_id"],
        tracking_code=accepted["tracking_code"],
        origin_site_id=intake.site_id,
        handling_site_id="mpp-tenggarong",
        handling_site_name="MPP Tenggarong",
        service_code=PASSPORT,
    )
    inbox = site_inbox(intake.site_id).name
    sent: list[tuple[str, IntegrationEvent]] = [
        (ROUTING_DECISION.name, decision),
        (inbox, case),
        (inbox, result),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=intake.context.settings.kafka_bootstrap_servers)
    await producer.start()
    try:

        async def publish(topic: str, event: IntegrationEvent) -> None:
            await producer.send_and_wait(
                topic,
                event.model_dump_json().encode(),
                key=str(event.application_id).encode(),  # type: ignore[attr-defined]
            )

        await publish(*sent[0])  # the decision first: the result comes only to a forwarded application
        await eventually(lambda: _is(intake, accepted["application_id"], "forwarded"), timeout=60)
        for topic, event in sent[1:]:
            await publish(topic, event)
        await eventually(lambda: _is(intake, accepted["application_id"], "ready_for_pickup"), timeout=60)
        await eventually(lambda: _is(intake, case.application_id, "expected"), timeout=60)
        before = await snapshot(intake)
        duplicates = sum(c.duplicates for c in intake.context.runtime.consumers)

        for topic, event in sent:  # the same messages again, as a replay from the beginning delivers them
            await publish(topic, event)
        await eventually(
            lambda: sum(c.duplicates for c in intake.context.runtime.consumers) == duplicates + 3, timeout=60
        )
    finally:
        await producer.stop()
    assert await snapshot(intake) == before
    assert [c.dead_lettered for c in intake.context.runtime.consumers] == [0, 0]


async def _is(intake: Intake, application_id: object, expected: str) -> bool:
    return await status(intake, application_id) == expected
