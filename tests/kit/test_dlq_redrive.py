"""`mpp-dlq` on the real broker: a poison message is listed without its content, and once the consumer is fixed a
redrive makes it process the message once; a second redrive changes nothing (the inbox absorbs it)."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from mpp_contracts.base import IntegrationEvent
from mpp_devstack.infra import Infra
from mpp_kit.consumer import InboxConsumer, subscribe
from mpp_kit.db import create_pool, migrate

NAME, PHONE = "Siti Aminah", "081234560001"


class ApplicantTexted(IntegrationEvent):
    name: str
    phone: str
    segments: int


@pytest.fixture
async def pool(database: str):
    await migrate(database)
    async with await create_pool(database) as p:
        await p.execute("CREATE TABLE texted (event_id uuid, name text)")
        yield p


async def mpp_dlq(bootstrap: str, *args: str) -> tuple[int, str]:
    """Run the console command as ops would, its broker from the environment."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mpp_kit.dlq",
        *args,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_poison_is_listed_without_personal_data_and_redriven_once_after_the_fix(
    infra: Infra, pool: asyncpg.Pool, topic_name: str, eventually
) -> None:
    fixed = False

    async def text_applicant(conn: asyncpg.Connection, event: ApplicantTexted) -> None:
        if event.segments > 1 and not fixed:
            raise ValueError(f"message for {event.phone} longer than one segment")
        await conn.execute("INSERT INTO texted VALUES ($1, $2)", event.event_id, event.name)

    poison = ApplicantTexted(name=NAME, phone=PHONE, segments=2)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic_name,
            poison.model_dump_json().encode(),
            key=b"application-1",
            headers=[("event-id", str(poison.event_id).encode())],
        )
    finally:
        await producer.stop()

    broker = KafkaBroker(infra.kafka_bootstrap, logger=None)
    consumer = InboxConsumer(
        name="texter",
        topic=topic_name,
        parse=TypeAdapter(ApplicantTexted).validate_json,
        handler=text_applicant,
        pool=lambda: pool,
        broker=broker,
        max_attempts=2,
        retry_backoff_s=0.05,
    )
    subscribe(consumer, group_id=f"g-{topic_name}")
    dlq = f"{topic_name}.dlq"
    async with broker:
        await broker.start()
        await eventually(lambda: consumer.dead_lettered == 1)

        code, out = await mpp_dlq(infra.kafka_bootstrap, "list", dlq)
        assert code == 0
        [listed] = [json.loads(line) for line in out.splitlines()]
        assert listed["offset"] == 0 and listed["key"] == "application-1"
        assert listed["error_type"] == "ValueError" and listed["attempts"] == 2
        assert listed["original_topic"] == topic_name and listed["event_id"] == str(poison.event_id)
        assert NAME not in out and PHONE not in out and "segment" not in out

        # A DLQ made by ensure_topics has one partition; this one was auto-created, so name the partition.
        where = ("--partition", str(listed["partition"]), "--offset", "0")
        code, out = await mpp_dlq(infra.kafka_bootstrap, "inspect", dlq, *where)
        assert code == 0
        inspected = json.loads(out)
        assert inspected["payload"] == {
            "event_id": "string",
            "occurred_at": "string",
            "name": "string",
            "phone": "string",
            "segments": "number",
        }
        assert "longer than one segment" in inspected["headers"]["dlq-error"]
        assert NAME not in out and PHONE not in out, "values redacted, personal data in the error masked"

        fixed = True  # the corrected consumer is deployed
        code, _ = await mpp_dlq(infra.kafka_bootstrap, "redrive", dlq, *where)
        assert code == 0
        await eventually(lambda: consumer.processed == 1)

        code, _ = await mpp_dlq(infra.kafka_bootstrap, "redrive", dlq, "--all")
        assert code == 0
        await eventually(lambda: consumer.duplicates == 1)

    rows = await pool.fetch("SELECT event_id, name FROM texted")
    assert [(r["event_id"], r["name"]) for r in rows] == [(poison.event_id, NAME)], (
        "processed once, same event"
    )
    assert consumer.dead_lettered == 1


async def test_a_topic_that_is_not_a_dlq_is_refused(infra: Infra, topic_name: str) -> None:
    code, out = await mpp_dlq(infra.kafka_bootstrap, "redrive", topic_name, "--all")
    assert code == 2 and out == ""
