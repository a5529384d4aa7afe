"""Benchmark: catalogue lookups per second, from a read model and over HTTP, against their raw limits.

    uv run python bench/catalog_lookups.py

Starts Kafka, PostgreSQL and the platform locally (or uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), then in one
run measures: read-model lookups against plain dict lookups of the same keys, search queries, and
`GET /services/{code}` against `GET /healthz` on the same catalog process (the HTTP stack's own limit).
Loopback only, bounded in count and time.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from mpp_contracts.catalog import ServiceTypeChanged
from mpp_contracts.topics import CATALOG_SERVICE
from mpp_devstack.infra import infrastructure
from mpp_devstack.platform import Platform
from mpp_kit.readmodel import ReadModel
from mpp_kit.sealing import new_key

LOOKUPS = 300_000
REQUESTS = 2_000
CONCURRENCY = 16
QUERIES = ["akta lahir", "ktp hilang", "paspor", "skck", "kartu keluaga", "npwp", "sim c", "izin usaha"]


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


async def http_rate(client: httpx.AsyncClient, paths: list[str]) -> float:
    queue = list(paths)

    async def worker() -> None:
        while queue:
            response = await client.get(queue.pop())
            assert response.status_code == 200, response.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return per_second(len(paths), time.perf_counter() - started)


async def measure(platform: Platform) -> None:
    model = ReadModel(CATALOG_SERVICE.name, ServiceTypeChanged, lambda e: e.service, platform.kafka_bootstrap)
    await model.start_and_load(timeout=60)
    codes = list(model.items)
    keys = [random.choice(codes) for _ in range(LOOKUPS)]
    plain = dict(model.items)
    started = time.perf_counter()
    for key in keys:
        plain.get(key)
    raw = per_second(LOOKUPS, time.perf_counter() - started)
    started = time.perf_counter()
    for key in keys:
        model.get(key)
    ours = per_second(LOOKUPS, time.perf_counter() - started)
    await model.stop()

    from catalog.search import SearchIndex
    from catalog.seed import DEFAULT_DATA_DIR, load_catalogue

    index = SearchIndex.of(load_catalogue(DEFAULT_DATA_DIR))  # as the service builds it
    started = time.perf_counter()
    for i in range(5_000):
        index.search(QUERIES[i % len(QUERIES)], limit=10, offset=0)
    searches = per_second(5_000, time.perf_counter() - started)

    async with httpx.AsyncClient(
        base_url=platform.url("catalog"), timeout=30, limits=httpx.Limits(max_connections=CONCURRENCY)
    ) as client:
        await http_rate(client, ["/healthz"] * 200)  # warm up connections
        health = await http_rate(client, ["/healthz"] * REQUESTS)
        lookups = await http_rate(client, [f"/services/{random.choice(codes)}" for _ in range(REQUESTS)])
        search = await http_rate(
            client, [f"/services?q={QUERIES[i % len(QUERIES)]}" for i in range(REQUESTS // 2)]
        )

    print(f"catalogue: {len(codes)} service types")
    print(f"read model lookups/s     {ours:>12,.0f}   plain dict {raw:>12,.0f}   ratio {ours / raw:.2f}")
    print(f"search queries/s         {searches:>12,.0f}   (in process, top 10)")
    print(
        f"HTTP GET /services/{{code}} {lookups:>10,.0f}/s  GET /healthz {health:>8,.0f}/s"
        f"   ratio {lookups / health:.2f}"
    )
    print(
        f"HTTP GET /services?q=    {search:>12,.0f}/s  ratio to /healthz {search / health:.2f}"
        f"  (concurrency {CONCURRENCY})"
    )


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mpp-bench-"))
    secrets = {
        "contact_sealing_key": new_key(),
        "nik_encryption_key": new_key(),
        "delivery_report_token": uuid.uuid4().hex,
        "catalog_admin_token": uuid.uuid4().hex,
        "catalog_ops_token": uuid.uuid4().hex,
    }
    with infrastructure(workdir) as infra:
        platform = Platform(
            workdir / "platform",
            infra.kafka_bootstrap,
            infra.pg_admin_dsn,
            sites=("loa-kulu",),
            db_prefix=f"bench{uuid.uuid4().hex[:6]}",
            extra_env={"LOG_LEVEL": "WARNING"},
        )
        try:
            platform.start(secrets)
            asyncio.run(measure(platform))
        finally:
            platform.stop()


if __name__ == "__main__":
    main()
