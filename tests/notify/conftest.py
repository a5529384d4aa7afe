"""Notify on the real database, with the sandbox provider and notify's HTTP app wired together in-process.

``stack`` gives a migrated notify database (its own, per test), notify's real app (``create_app(settings)``;
its runtime is not started, so no broker and no dispatcher of its own: tests drive dispatchers themselves and
the app is given the test database's pool), the sandbox SMS provider whose delivery reports go to that app,
adapters pointed at the sandbox, and helpers to create messages and read them back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from aiolimiter import AsyncLimiter
from fastapi import FastAPI

import notify
from mpp_devstack.sms_sandbox import create_app as create_sandbox
from mpp_kit.db import create_pool, migrate
from mpp_kit.sealing import new_key
from notify import messages
from notify.app import create_app
from notify.context import NotifyContext
from notify.dispatch import Dispatcher, Housekeeping, RetryPolicy
from notify.providers import TwilioProvider, ZenzivaProvider
from notify.providers.base import SmsProvider
from notify.providers.selection import HealthPolicy, ProviderSelector
from notify.quiet_hours import QuietHours
from notify.settings import NotifySettings

MIGRATIONS = Path(notify.__file__).parent / "migrations"
REPORT_TOKEN = "report-token"
OPS_TOKEN = "ops-token"
TWILIO_TOKEN = "twilio-auth-token"
ACCOUNT_SID = "AC" + "2" * 32
CALLBACK = "http://notify/delivery-reports/twilio"
VARIABLES = {
    "layanan": "Akta Kelahiran",
    "lokasi": "Mini MPP Loa Kulu",
    "kode": "KKR-7F3K-9Q2M",
    "tanggal": "Senin, 7 Des 2026",
    "jam": "08.00 WITA",
    "tempat": "MPP Kukar",
    "bawa": "KTP asli",
}


def number(suffix: str) -> str:
    """An Indonesian mobile number ending in ``suffix`` (the sandbox's special numbers: 0001...0006)."""
    return f"+628125555{suffix}"


CONTACT_KEY = new_key()


@dataclass
class Stack:
    REPORT_TOKEN = REPORT_TOKEN
    OPS_TOKEN = OPS_TOKEN
    TWILIO_TOKEN = TWILIO_TOKEN
    CALLBACK = CALLBACK

    pool: asyncpg.Pool
    settings: NotifySettings
    app: FastAPI  # notify's HTTP app
    client: httpx.AsyncClient  # to notify's app
    sandbox_app: FastAPI
    sandbox: httpx.AsyncClient  # to the sandbox

    number = staticmethod(number)

    @property
    def state(self) -> Any:
        return self.sandbox_app.state.sandbox

    @property
    def context(self) -> NotifyContext:
        return notify_context(self.app)

    def notify_app(self, **settings: Any) -> FastAPI:
        """Another notify app on the same database, with some settings changed."""
        return notify_app(self.pool, self.settings.model_copy(update=settings))

    def twilio(self, **overrides: Any) -> TwilioProvider:
        settings: dict[str, Any] = {
            "account_sid": ACCOUNT_SID,
            "auth_token": TWILIO_TOKEN,
            "from_": "MPPKUKAR",
            "status_callback_url": CALLBACK,
            "base_url": "http://sandbox",
            "timeout": 2.0,
        }
        settings.update(overrides)
        client = settings.pop("client", self.sandbox)
        return TwilioProvider(client, **settings)

    def zenziva(self, **overrides: Any) -> ZenzivaProvider:
        settings: dict[str, Any] = {
            "userkey": "uk",
            "passkey": "pk",
            "base_url": "http://sandbox",
            "timeout": 2.0,
        }
        settings.update(overrides)
        client = settings.pop("client", self.sandbox)
        return ZenzivaProvider(client, **settings)

    def dispatcher(
        self,
        *providers: SmsProvider,
        policy: HealthPolicy | None = None,
        retry: RetryPolicy | None = None,
        quiet: QuietHours | None = None,
        housekeeping: Housekeeping | None = None,
        rates: dict[str, AsyncLimiter | None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> Dispatcher:
        chosen = providers or (self.twilio(),)
        entries = [(p, 100 - 10 * i, (rates or {}).get(p.name)) for i, p in enumerate(chosen)]
        selector = (
            ProviderSelector(entries, policy, clock=clock) if clock else ProviderSelector(entries, policy)
        )
        return Dispatcher(
            self.pool,
            selector,
            interval_s=0.05,
            retry=retry,
            quiet=quiet,
            housekeeping=housekeeping,
        )

    async def new_message(
        self,
        phone: str,
        *,
        template: str = "permohonan_diterima",
        application_id: UUID | None = None,
        event_id: UUID | None = None,
        then: str | None = None,
        then_args: tuple[Any, ...] = (),
    ) -> UUID:
        """Create a message; `then` (SQL on `$1` = its id) runs in the same transaction, so a running
        dispatcher never sees the message before that change."""
        async with self.pool.acquire() as conn, conn.transaction():
            message_id = await messages.create(
                conn,
                event_id=event_id or uuid4(),
                application_id=application_id or uuid4(),
                template=template,
                variables=VARIABLES,
                phone_e164=phone,
            )
            assert message_id is not None
            if then is not None:
                await conn.execute(then, message_id, *then_args)
        return message_id

    async def row(self, message_id: UUID) -> asyncpg.Record:
        row = await self.pool.fetchrow("SELECT * FROM sms_message WHERE id = $1", message_id)
        assert row is not None
        return row

    async def status(self, message_id: UUID) -> str:
        return str((await self.row(message_id))["status"])

    async def published(self, message_id: UUID) -> list[str]:
        """Statuses published on notify.sms.v1 for a message (outbox rows; no relay runs here)."""
        rows = await self.pool.fetch(
            "SELECT payload FROM outbox WHERE topic = 'notify.sms.v1'"
            " AND convert_from(payload, 'UTF8') LIKE '%' || $1 || '%' ORDER BY id",
            str(message_id),
        )
        return [json.loads(bytes(r["payload"]))["status"] for r in rows]

    async def make_due(self, message_id: UUID) -> None:
        await self.pool.execute("UPDATE sms_message SET next_attempt_at = now() WHERE id = $1", message_id)

    async def reports_done(self) -> None:
        await self.state.wait_idle()

    async def sandbox_messages(self, to: str | None = None) -> list[dict[str, Any]]:
        params = {"to": to} if to else {}
        return list((await self.sandbox.get("/_sandbox/messages", params=params)).json())


def notify_settings(database: str) -> NotifySettings:
    return NotifySettings(
        database_url=database,
        contact_sealing_key=CONTACT_KEY,
        delivery_report_token=REPORT_TOKEN,
        notify_ops_token=OPS_TOKEN,
        sms_providers="twilio",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_base_url="http://sandbox",
        twilio_from="MPPKUKAR",
        sms_status_callback_url=CALLBACK,
    )


def notify_app(pool: asyncpg.Pool, settings: NotifySettings) -> FastAPI:
    """Notify's real app, its runtime not started: the routes get the test database's pool."""
    app = create_app(settings)
    notify_context(app).pool = pool
    return app


def notify_context(app: FastAPI) -> NotifyContext:
    context: NotifyContext = app.state.context
    return context


@pytest.fixture
async def notify_db(database: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database, MIGRATIONS)
    pool = await create_pool(database)
    yield pool
    await pool.close()


@pytest.fixture
async def stack(notify_db: asyncpg.Pool, database: str) -> AsyncIterator[Stack]:
    settings = notify_settings(database)
    app = notify_app(notify_db, settings)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify")
    webhook_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    sandbox_app = create_sandbox(
        "http://notify/delivery-reports",
        REPORT_TOKEN,
        webhook_client=webhook_client,
        slow_seconds=0.3,
        hang_seconds=1.0,
        report_delay=0.0,
    )
    sandbox = httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox_app), base_url="http://sandbox")
    try:
        yield Stack(notify_db, settings, app, client, sandbox_app, sandbox)
    finally:
        await sandbox_app.state.sandbox.aclose()
        for c in (sandbox, webhook_client, client):
            await c.aclose()
