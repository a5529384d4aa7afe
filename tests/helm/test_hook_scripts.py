"""The hook Jobs' scripts (deploy/helm/mini-mpp/files/), run as the Jobs run them, against the real broker and
PostgreSQL of the test session: topics created, widened and configured, idempotently; every service's
migrations applied once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from mpp_devstack.infra import Infra

from .conftest import CHART

SCRIPTS = CHART / "files"


def run_script(name: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / name)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_topics_are_created_then_widened_and_configured_idempotently(infra: Infra) -> None:
    prefix = f"hook{uuid.uuid4().hex[:8]}"
    events, dlq = f"{prefix}.events.v1", f"{prefix}.events.v1.dlq"

    def spec(partitions: int, retention: str) -> list[dict[str, object]]:
        return [
            {
                "name": events,
                "partitions": partitions,
                "config": {"cleanup.policy": "delete", "retention.ms": retention},
            },
            {
                "name": dlq,
                "partitions": 1,
                "config": {"cleanup.policy": "delete", "retention.ms": "2592000000"},
            },
        ]

    env = {"KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap, "REPLICATION_FACTOR": "1"}
    run_script("ensure_topics.py", {**env, "TOPICS": json.dumps(spec(2, "604800000"))})
    run_script(
        "ensure_topics.py", {**env, "TOPICS": json.dumps(spec(2, "604800000"))}
    )  # again: nothing to do
    run_script("ensure_topics.py", {**env, "TOPICS": json.dumps(spec(4, "86400000"))})  # more partitions

    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        described = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics([events, dlq])}
        assert described == {events: 4, dlq: 1}
        answer = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, events)])
        configs = {entry[0]: entry[1] for entry in answer[0].resources[0][4]}
        assert configs["retention.ms"] == "86400000"
    finally:
        await admin.close()


async def test_migrations_apply_every_services_schema_once(infra: Infra, database: str) -> None:
    targets = "catalog=DB routing=DB"  # two services' migrations in one database: the names never collide
    first = run_script("migrate.py", {"MIGRATE_TARGETS": targets, "DB": database})
    again = run_script("migrate.py", {"MIGRATE_TARGETS": targets, "DB": database})
    assert "catalog/" in first and "routing/" in first
    assert again.count("applied now: none") == 2
    conn = await asyncpg.connect(database)
    try:
        names = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
    finally:
        await conn.close()
    assert any(n.startswith("catalog/") for n in names) and any(n.startswith("routing/") for n in names)
