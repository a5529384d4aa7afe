"""Benchmark: the whole pipeline, as an applicant meets it: counter submits at several Mini MPPs until each SMS has
reached the (sandbox) provider, against the raw rate of intake's submit transaction on the same PostgreSQL.

    uv run python bench/pipeline.py [--applications 1000] [--concurrency 32] [--sites 4]

Not collected by pytest. Runs its own broker and database (local processes, or `KAFKA_BOOTSTRAP_SERVERS` +
`DATABASE_URL`), and the platform as `make up` runs it (catalog, routing, notify, one intake per site, the web,
the sandbox provider), with the provider rate limits lifted: the pipeline, not the SMS provider's contract, is
what is measured.

Prints, from one run:
- end-to-end applications per second: submits started to the last SMS received by the provider;
- submit latency (HTTP answer) and submit-to-SMS latency, p50/p90/p99;
- database commits per application: `pg_stat_database.xact_commit` over all databases during the run (until
  the last delivery report is recorded), less the idle rate measured before the run, per application, and which
  database they came from;
- the raw rate of intake's submit transaction (the same statements on an asyncpg pool, no HTTP, no relay) on
  the same server after the platform stopped, and the ratio of end-to-end to raw.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvloop
from cpu import cpu_per_application, machine_cpu_seconds
from intake_submit import raw_rate
from lean_http import LeanClient

from mpp_devstack.infra import infrastructure
from mpp_devstack.platform import Platform, create_database
from mpp_devstack.postgres import prepare_runtime_dir
from mpp_kit.sealing import new_key

SERVICE = "DUKCAPIL-AKTA-LAHIR"  # kept local at every Mini MPP: one SMS ("diterima") per application
# Lifted for the run: the providers' sending rates (the sandbox has none) and the per-phone daily cap.
LIFTED = {
    "twilio_rate_per_s": "0",
    "zenziva_rate_per_s": "0",
    "sms_daily_cap_per_phone": "1000",
    "log_level": "warning",
}
COMMITS = "SELECT datname, xact_commit FROM pg_stat_database WHERE datname IS NOT NULL"


def percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49] * 1000:7.1f} ms   p90 {q[89] * 1000:7.1f} ms   p99 {q[98] * 1000:7.1f} ms"


async def commits(admin_dsn: str) -> dict[str, int]:
    # Each backend reports its counters at most about once a second (PostgreSQL's pgstat flush): read after a pause.
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        return {row["datname"]: row["xact_commit"] for row in await conn.fetch(COMMITS)}
    finally:
        await conn.close()


def difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}


async def idle_commit_rate(admin_dsn: str, seconds: float) -> tuple[float, dict[str, int]]:
    before = await commits(admin_dsn)
    await asyncio.sleep(seconds)
    during = difference(await commits(admin_dsn), before)
    return sum(during.values()) / seconds, during


async def sms_received(client: httpx.AsyncClient, sandbox: str) -> dict[str, datetime]:
    messages = (await client.get(f"{sandbox}/_sandbox/messages", timeout=30)).json()
    return {m["to"]: datetime.fromisoformat(m["received_at"]) for m in messages}


async def reports_recorded(notify_dsn: str) -> int:
    conn = await asyncpg.connect(notify_dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM sms_message WHERE status = 'delivered'"))
    finally:
        await conn.close()


async def load(
    platform: Platform, sites: list[str], count: int, concurrency: int, timeout: float
) -> dict[str, Any]:
    checklist = await asyncio.to_thread(platform.provided_checklist, SERVICE)
    run_id = uuid.uuid4().hex[:8]
    submitted_at: dict[str, datetime] = {}
    submit_latency: list[float] = []
    todo = iter(range(count))
    client = LeanClient()

    async def worker() -> None:
        for i in todo:
            site = sites[i % len(sites)]
            phone = f"0813{i:07d}9"  # never one of the sandbox's special endings
            started = time.perf_counter()
            sent_at = datetime.now().astimezone()
            status, answer = await client.post_json(
                f"{platform.url('intake-' + site)}/applications",
                {
                    "service_code": SERVICE,
                    "channel": "counter",
                    "applicant": {"name": "Siti Aminah", "nik": "6402024101900001", "phone": phone},
                    "checklist": checklist,
                },
                {
                    "Authorization": f"Bearer {platform.operator_token(site)}",
                    "Idempotency-Key": f"{run_id}-{i}",
                },
            )
            if status != 201:
                raise RuntimeError(f"submit {i}: {status} {answer[:200]!r}")
            submit_latency.append(time.perf_counter() - started)
            submitted_at[f"+62813{i:07d}9"] = sent_at

    async with httpx.AsyncClient(timeout=60) as reader:
        started, started_at = time.perf_counter(), datetime.now().astimezone()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout)
        submits_done = time.perf_counter() - started
        sandbox = platform.url("sms-sandbox")
        while len(received := await sms_received(reader, sandbox)) < count:
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{len(received)} of {count} SMS reached the provider in {timeout:.0f} s")
            # Seldom: the whole list is read each time (the sandbox's CPU and this driver's are measured too);
            # the end comes from the provider's own time of the last SMS, not from this poll.
            await asyncio.sleep(1.0)
    client.close()
    last_sms = (max(received.values()) - started_at).total_seconds()
    to_sms = [(received[phone] - submitted_at[phone]).total_seconds() for phone in submitted_at]
    return {
        "submits_s": submits_done,
        "end_to_end_s": last_sms,
        "submit_latency": submit_latency,
        "submit_to_sms": to_sms,
    }


async def top_statements(admin_dsn: str) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        rows = await conn.fetch(
            "SELECT d.datname, s.query, s.calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "ORDER BY s.calls DESC LIMIT 70"
        )
        return [
            (f"{row['datname'].split('_', 1)[-1]}: {' '.join(row['query'].split())[:150]}", row["calls"])
            for row in rows
        ]
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--applications", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--sites", type=int, default=4, help="Mini MPPs the submits are spread over")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed for the run")
    parser.add_argument(
        "--statements",
        action="store_true",
        help="also list the statements run most (needs MPP_POSTGRES_OPTIONS='-c "
        "shared_preload_libraries=pg_stat_statements' for a local server)",
    )
    args = parser.parse_args()
    if not 10 <= args.applications <= 20_000:
        parser.error("--applications must be between 10 and 20000")
    prepare_runtime_dir()
    sites = ["loa-kulu", "tabang", "sebulu", "muara-badak", "anggana", "samboja", "kota-bangun"][: args.sites]
    secrets = {
        "contact_sealing_key": new_key(),
        "nik_encryption_key": new_key(),
        "delivery_report_token": uuid.uuid4().hex,
        "operator_token": "bench-" + uuid.uuid4().hex,
    }
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp, infrastructure(Path(tmp)) as infra:
        prefix = f"bench{uuid.uuid4().hex[:6]}"
        platform = Platform(
            Path(tmp) / "platform",
            infra.kafka_bootstrap,
            infra.pg_admin_dsn,
            sites=tuple(sites),
            db_prefix=prefix,
        )
        platform.extra_env.update({k.upper(): v for k, v in LIFTED.items()})
        platform.start(secrets)
        try:
            time.sleep(3)  # the services settle (read models loaded, first polls done)
            idle_rate, idle_by_db = asyncio.run(idle_commit_rate(infra.pg_admin_dsn, 5.0))
            before = asyncio.run(commits(infra.pg_admin_dsn))
            services = {name: p.proc.pid for name, p in platform.processes.items()}
            machine_before = machine_cpu_seconds()
            with cpu_per_application(args.applications, **services) as cpu:
                clock = time.perf_counter()
                result = asyncio.run(load(platform, sites, args.applications, args.concurrency, args.timeout))
                base, _, _ = infra.pg_admin_dsn.rpartition("/")
                notify_dsn = f"{base}/{prefix}_notify"
                while asyncio.run(reports_recorded(notify_dsn)) < args.applications:
                    if time.perf_counter() - clock > args.timeout:
                        raise TimeoutError("delivery reports not all recorded")
                    time.sleep(0.2)
                time.sleep(1.5)  # the last counters reach pg_stat_database
            during = difference(asyncio.run(commits(infra.pg_admin_dsn)), before)
            window = time.perf_counter() - clock - 1.5
            machine_busy = machine_cpu_seconds() - machine_before
            statements = asyncio.run(top_statements(infra.pg_admin_dsn)) if args.statements else []
        finally:
            platform.stop()
        raw_db = asyncio.run(create_database(infra.pg_admin_dsn, f"{prefix}_raw"))
        keys = {
            "contact_sealing_key": secrets["contact_sealing_key"],
            "nik_encryption_key": secrets["nik_encryption_key"],
        }
        uvloop.run(raw_rate(raw_db, 200, args.concurrency, args.timeout, keys))
        raw = uvloop.run(raw_rate(raw_db, args.applications, args.concurrency, args.timeout, keys))

    n = args.applications
    end_to_end = n / result["end_to_end_s"]
    total = sum(during.values()) - idle_rate * window
    print(
        f"applications {n} at {len(sites)} sites, concurrency {args.concurrency}, loopback, provider limits lifted"
    )
    print(f"submits done in        {result['submits_s']:8.1f} s ({n / result['submits_s']:.1f}/s)")
    print(
        f"end to end             {end_to_end:8.1f} applications/s (last SMS at {result['end_to_end_s']:.1f} s)"
    )
    print(f"submit latency         {percentiles(result['submit_latency'])}")
    print(f"submit to SMS          {percentiles(result['submit_to_sms'])}")
    q = statistics.quantiles(result["submit_latency"], n=100, method="inclusive")
    print(f"submit p99/p50         {q[98] / q[49]:8.1f}")
    idle_parts = ", ".join(f"{name} {count}" for name, count in sorted(idle_by_db.items()) if count)
    print(f"idle commits           {idle_rate:8.1f}/s  ({idle_parts} in 5 s)")
    print(f"commits/application    {total / n:8.2f}   (over {window:.1f} s, idle subtracted)")
    for name, count in sorted(during.items(), key=lambda item: -item[1]):
        if count:
            print(f"    {name:32} {count / n:6.2f}")
    print(
        f"CPU                    {machine_busy:8.1f} s busy of {os.cpu_count()} cores over {window:.1f} s"
        f" ({machine_busy / n * 1000:.1f} ms per application); services:"
    )
    shown = {"postgres": "PostgreSQL", "java": "Kafka"}
    for name, ms in sorted(cpu.items(), key=lambda item: -item[1]):
        print(f"    {shown.get(name, name):32} {ms:6.1f} ms/application")
    for query, calls in statements:
        print(f"  {calls / n:7.2f}  {query}")
    print(f"raw submit transaction {raw:8.1f} applications/s (asyncpg, no HTTP, same server)")
    print(f"ratio end to end / raw {end_to_end / raw:8.2f}")


if __name__ == "__main__":
    main()
