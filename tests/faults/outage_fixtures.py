"""Helpers of the platform outage tests: a Kafka broker and a PostgreSQL server of the module's own (so killing
them disturbs no other test), a platform on them, a stream of submits that keeps what intake answered, and what
the platform ended with (SMS at the sandbox, statuses in notify, dead letters).

The figures of a scenario are printed (``pytest -s``) before anything is asserted, so a run on older code still
gives them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from mpp_devstack.platform import Platform
from tests.faults.notify_fixtures import SERVICE, SITE, Tally

APPLICATION_TOPIC = "intake.application.v1"
POISON = b"poison-"  # the key of every unreadable event a scenario publishes on purpose


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None

    @property
    def poison(self) -> bool:
        return (self.key or b"").startswith(POISON)


def phone(scenario: int, index: int) -> str:
    """A national mobile number of its own per (scenario, index), none of the sandbox's special endings."""
    return f"0815{scenario}{index:03d}{7000 + index:04d}"


@dataclass
class OutageTally(Tally):
    """What one scenario ended with; `Tally` counts the SMS of the accepted applications."""

    refused: dict[str, int] = field(default_factory=dict)  # national number -> status of a refused submit
    refusals_without_retry_after: int = 0
    statuses: dict[str, list[str]] = field(
        default_factory=dict
    )  # application id -> its SMS statuses in notify
    dead_letters: list[DeadLetter] = field(default_factory=list)  # those of this scenario
    server_down: bool = False  # set by the scenario from the kill until the server is started again
    sent_while_down: set[str] = field(default_factory=set)  # national numbers submitted meanwhile

    @property
    def server_errors(self) -> int:
        return sum(1 for status in self.refused.values() if status >= 500 and status != 503)

    @property
    def not_delivered(self) -> int:
        """Accepted applications whose SMS is not (only) `delivered` in notify."""
        return sum(1 for a in self.application_ids.values() if self.statuses.get(a) != ["delivered"])

    @property
    def left_in_dlq(self) -> int:
        """Dead letters that were not poison: events of the stream that a consumer gave up on."""
        return sum(1 for dead in self.dead_letters if not dead.poison)

    @property
    def refused_but_texted(self) -> int:
        """Submits answered with an error whose application was stored and texted all the same."""
        return sum(1 for p in self.refused if self.sms_per_phone.get(p, 0) > 0)

    @property
    def accepted_while_down(self) -> int:
        return sum(1 for p in self.accepted if p in self.sent_while_down)

    def report(self) -> str:
        refused: dict[int, int] = {}
        for status in self.refused.values():
            refused[status] = refused.get(status, 0) + 1
        return self.line(
            submitted_while_down=len(self.sent_while_down),
            accepted_while_down=self.accepted_while_down,
            refused=dict(sorted(refused.items())),
            not_delivered=self.not_delivered,
            left_in_dlq=self.left_in_dlq,
            poison_in_dlq=len(self.dead_letters) - self.left_in_dlq,
            refused_but_texted=self.refused_but_texted,
        )


async def submit_until(
    platform: Platform, scenario: int, per_second: float, stop: asyncio.Event, tally: OutageTally
) -> None:
    """Submit one application per second fraction through intake, each with a phone number of its own, until
    `stop` is set; keep the accepted ones and what the others were answered."""
    url = f"{platform.url(f'intake-{SITE}')}/applications"
    async with httpx.AsyncClient(timeout=30) as client:
        body: dict[str, Any] = {"service_code": SERVICE, "channel": "counter"}
        if await _takes_a_checklist(client, platform):
            body["checklist"] = await _provided_checklist(client, platform)

        async def one(number: str) -> None:
            if tally.server_down:
                tally.sent_while_down.add(number)
            try:
                answer = await client.post(
                    url,
                    json={
                        **body,
                        "applicant": {"name": "Siti Aminah", "nik": "6402024101900001", "phone": number},
                    },
                    headers={
                        "Idempotency-Key": f"outage-{number}",
                        "Authorization": f"Bearer {platform.operator_token(SITE)}",
                    },
                )
            except httpx.HTTPError as exc:
                print(f"submit got no answer: {exc!r}")
                tally.refused[number] = 0  # no answer at all: not accepted either
                return
            if answer.status_code == 201:
                tally.accepted.append(number)
                tally.application_ids[number] = answer.json()["application_id"]
                return
            tally.refused[number] = answer.status_code
            if answer.status_code == 503 and not answer.headers.get("Retry-After", "").isdigit():
                tally.refusals_without_retry_after += 1
            if answer.status_code != 503:
                print(f"submit refused: {answer.status_code} {answer.text[:300]}")

        submits: list[asyncio.Task[None]] = []
        index = 0
        while not stop.is_set():
            submits.append(asyncio.create_task(one(phone(scenario, index))))
            index += 1
            await asyncio.sleep(1 / per_second)
        await asyncio.gather(*submits)


async def _takes_a_checklist(client: httpx.AsyncClient, platform: Platform) -> bool:
    """Whether this intake's submit takes the requirements checklist (the code before it refuses the field)."""
    document = (await client.get(f"{platform.url(f'intake-{SITE}')}/openapi.json")).json()
    request = document["components"]["schemas"].get("ApplicationRequest", {})
    return "checklist" in request.get("properties", {})


async def _provided_checklist(client: httpx.AsyncClient, platform: Platform) -> list[dict[str, str]]:
    """Every mandatory requirement ticked as provided (as tests/e2e/conftest.py `provided_checklist`)."""
    detail = (await client.get(f"{platform.url('catalog')}/services/{SERVICE}")).json()
    return [
        {"requirement": item["name"], "provided": item["form"]}
        for item in detail.get("requirements", [])
        if isinstance(item, dict) and not item.get("optional")
    ]


async def publish_poison(platform: Platform, scenario: str) -> None:
    """An event no consumer can read: it belongs in the DLQ of every consumer of the topic, at once."""
    key = POISON + scenario.encode()
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(APPLICATION_TOPIC, b'{"not": "an application event"}', key=key)
    finally:
        await producer.stop()


async def dead_letters(bootstrap: str) -> list[DeadLetter]:
    """Every message in every `<topic>.dlq` of the broker, from the beginning to the end as it is now."""
    # The admin client names the topics and their partitions (a plain consumer's metadata lags behind new ones).
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if t.endswith(".dlq"))
        described = await admin.describe_topics(topics) if topics else []
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await reader.start()
    try:
        if not partitions:
            return []
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        found: list[DeadLetter] = []
        async with asyncio.timeout(30):
            while [tp for tp, end in ends.items() if await reader.position(tp) < end]:
                batch = await reader.getmany(timeout_ms=1000)
                found += [
                    DeadLetter(m.topic, m.partition, m.offset, m.key)
                    for messages in batch.values()
                    for m in messages
                ]
        return found
    finally:
        await reader.stop()


async def sms_statuses(platform: Platform) -> dict[str, list[str]]:
    """Application id -> the statuses of its SMS in notify's database."""
    base, _, _ = platform.pg_admin_dsn.rpartition("/")
    conn = await asyncpg.connect(f"{base}/{platform.db_prefix}_notify")
    try:
        rows = await conn.fetch(
            "SELECT application_id::text AS application, status FROM sms_message ORDER BY created_at"
        )
    finally:
        await conn.close()
    statuses: dict[str, list[str]] = {}
    for row in rows:
        statuses.setdefault(row["application"], []).append(row["status"])
    return statuses


async def settled(platform: Platform, tally: OutageTally, timeout: float) -> bool:
    """Wait (at most `timeout` s) until every accepted application has one SMS, delivered; count either way."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        tally.count(platform)
        tally.statuses = await sms_statuses(platform)
        if tally.lost == 0 and tally.not_delivered == 0:
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.5)
