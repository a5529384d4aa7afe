"""Helpers of notify's fault tests: a stream of submits through intake, and the tally each scenario reports.

Every scenario submits applications through intake (one phone number per application, so the SMS an
application got are the sandbox's messages to its number) and ends with a ``Tally``: accepted, delivered once,
lost, duplicated. The tally is printed (``pytest -s``) before anything is asserted, so a run on older code
still gives its figures.

The tests run on the session's ``platform`` (tests/conftest.py), not a platform of their own: two platforms on
one broker share the consumer groups (``notify-routing``...), so one platform's notify would take part of the
other's events.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from mpp_devstack.platform import Platform

SITE = "loa-kulu"
SERVICE = "DUKCAPIL-AKTA-LAHIR"  # handled at the site: one "received" SMS per application


def phone(scenario: int, index: int, special: str | None = None) -> str:
    """A national mobile number of its own per (scenario, index); ``special`` is a sandbox behaviour (0004...)."""
    tail = special or f"{7000 + index:04d}"
    return f"0813{scenario:02d}{index:02d}{tail}"


def e164(national: str) -> str:
    return "+62" + national[1:]


@dataclass
class Tally:
    scenario: str
    accepted: list[str] = field(default_factory=list)  # national numbers of accepted applications
    application_ids: dict[str, str] = field(default_factory=dict)  # national number -> application id
    sms_per_phone: dict[str, int] = field(default_factory=dict)

    @property
    def delivered_once(self) -> int:
        return sum(1 for p in self.accepted if self.sms_per_phone.get(p, 0) == 1)

    @property
    def lost(self) -> int:
        return sum(1 for p in self.accepted if self.sms_per_phone.get(p, 0) == 0)

    @property
    def duplicated(self) -> int:
        return sum(1 for p in self.accepted if self.sms_per_phone.get(p, 0) > 1)

    def count(self, platform: Platform) -> None:
        sent = httpx.get(f"{platform.url('sms-sandbox')}/_sandbox/messages", timeout=10).json()
        per: dict[str, int] = {}
        for message in sent:
            per[message["to"]] = per.get(message["to"], 0) + 1
        self.sms_per_phone = {p: per.get(e164(p), 0) for p in self.accepted}

    def line(self, **extra: Any) -> str:
        figures = {
            "accepted": len(self.accepted),
            "delivered_once": self.delivered_once,
            "lost": self.lost,
            "duplicated": self.duplicated,
            **extra,
        }
        text = f"[{self.scenario}] " + " ".join(f"{k}={v}" for k, v in figures.items())
        print(text)
        return text


async def submit_stream(platform: Platform, phones: list[str], per_second: float, tally: Tally) -> None:
    """Submit one application per phone number through intake at ``per_second``; keep the accepted ones."""
    url = f"{platform.url(f'intake-{SITE}')}/applications"
    async with httpx.AsyncClient(timeout=30) as client:
        service = (await client.get(f"{platform.url('catalog')}/services/{SERVICE}")).json()
        checklist = [
            {"requirement": r["name"], "provided": r["form"]}
            for r in service.get("requirements", [])
            if not r.get("optional")
        ]

        async def one(number: str) -> None:
            answer = await client.post(
                url,
                json={
                    "service_code": SERVICE,
                    "channel": "counter",
                    "applicant": {"name": "Siti Aminah", "nik": "6402024101900001", "phone": number},
                    "checklist": checklist,  # every mandatory requirement, as the counter checks them
                },
                headers={
                    "Idempotency-Key": f"fault-{number}",
                    "Authorization": f"Bearer {platform.operator_token(SITE)}",
                },
            )
            if answer.status_code == 201:
                tally.accepted.append(number)
                tally.application_ids[number] = answer.json()["application_id"]
            else:
                print(f"submit refused: {answer.status_code} {answer.text[:300]}")

        tasks = []
        for number in phones:
            tasks.append(asyncio.create_task(one(number)))
            await asyncio.sleep(1 / per_second)
        await asyncio.gather(*tasks)


def notify_dsn(platform: Platform) -> str:
    base, _, _ = platform.pg_admin_dsn.rpartition("/")
    return f"{base}/{platform.db_prefix}_notify"


async def sql(platform: Platform, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(notify_dsn(platform))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def sandbox(platform: Platform, what: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(
        f"{platform.url('sms-sandbox')}/_sandbox/{what}", timeout=10
    ).json()
    return found


def accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def within(seconds: float, check: Callable[[], Awaitable[bool]]) -> bool:
    """Whether ``check`` held within ``seconds`` (no failure: the caller reports figures either way)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False
