"""Intake as `create_app(settings)` builds it, in-process, on its own database and the session's broker.

Its catalogue copy holds a test site and test services (put there directly: the catalogue topics are shared with
the platforms other tests run). The outbox relay is replaced by one that publishes nothing, so these tests' events
stay in their own database (read back from the outbox table) instead of reaching a running routing or notify.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from intake import handlers
from intake.app import create_app
from intake.context import IntakeContext
from intake.settings import IntakeSettings
from mpp_contracts.catalog import RequirementItem, ServiceAvailability, SiteState
from mpp_contracts.intake import VERIFICATION_CODE_PURPOSE
from mpp_contracts.routing import ApplicationRouted, AppointmentEvent
from mpp_devstack.infra import Infra
from mpp_kit.sealing import new_key, unseal

SERVICE = "TEST-AKTA-LAHIR"
NOT_OFFERED = "TEST-NOT-OFFERED"
CHECKED = "TEST-KK-BARU"  # a service with a requirements checklist
PASSPORT = "TEST-PASPOR"  # central-only, collected back at the origin
SIM = "TEST-SIM"  # central-only, collected where it is made
CHECKLIST = (
    RequirementItem(name="KTP-el", form="original"),
    RequirementItem(name="Kartu Keluarga", form="copy"),
    RequirementItem(name="Pas foto", form="digital", optional=True),
)
OPERATOR_TOKEN = "op-" + uuid.uuid4().hex
OTHER_SITE_TOKEN = "op-other-" + uuid.uuid4().hex  # a valid credential bound to another site
SUPERVISOR_TOKEN = "spv-" + uuid.uuid4().hex  # a supervisor of the intake's site (`sari`)
OTHER_SITE_SUPERVISOR_TOKEN = "spv-other-" + uuid.uuid4().hex  # a supervisor bound to another site


class SilentRelay:
    """Stands in for the outbox relay: running, publishing nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.running = False

    async def start(self, *, background: bool = True) -> None:
        self.running = True

    async def stop(self) -> None:
        self.running = False


@dataclass
class Intake:
    client: httpx.AsyncClient
    context: IntakeContext
    site_id: str
    app: FastAPI | None = None

    def operator(self, token: str = OPERATOR_TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def supervisor(self) -> dict[str, str]:
        """A supervisor of this site (cancel and erase are theirs)."""
        return self.operator(SUPERVISOR_TOKEN)

    async def handle(self, event: Any) -> None:
        """Apply an event as the site's consumers would (one transaction); by the topic its type travels on."""
        topic_of_decisions = isinstance(event, ApplicationRouted) or (
            isinstance(event, AppointmentEvent) and event.origin_site_id == self.site_id
        )
        async with self.context.pool.acquire() as conn, conn.transaction():
            if topic_of_decisions:
                await handlers.on_decision(conn, event, self.context)
            else:
                await handlers.on_inbox(conn, event, self.context)

    async def outbox(self, topic: str | None = None) -> list[dict[str, Any]]:
        """The events intake wrote to its outbox for one topic (all when None), oldest first."""
        async with self.context.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT payload FROM outbox WHERE $1::text IS NULL OR topic = $1 ORDER BY id", topic
            )
        return [json.loads(row["payload"]) for row in rows]

    async def verification_code(self, application_id: str) -> str:
        """The one-time code intake asked notify to text for an online application (opened as notify does)."""
        [event] = [
            e
            for e in await self.outbox()
            if e["type"] == "phone_verification.requested" and e["application_id"] == str(application_id)
        ]
        return unseal(
            event["sealed_code"],
            self.context.settings.contact_sealing_key,
            purpose=VERIFICATION_CODE_PURPOSE,
            bound_to=str(application_id),
        )

    async def verify(self, application_id: str) -> dict[str, Any]:
        """Verify an online application with its code, as the applicant would."""
        code = await self.verification_code(application_id)
        response = await self.client.post(f"/applications/{application_id}/verify", json={"code": code})
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def events(self) -> list[dict[str, Any]]:
        """The events intake wrote to its outbox, oldest first."""
        async with self.context.pool.acquire() as conn:
            rows = await conn.fetch("SELECT payload FROM outbox ORDER BY id")
        return [json.loads(row["payload"]) for row in rows]


def intake_settings(infra: Infra, database: str, **overrides: Any) -> IntakeSettings:
    """A test site's settings (fresh keys and site id unless given)."""
    values: dict[str, Any] = {
        "site_id": f"t-{uuid.uuid4().hex[:8]}",
        "database_url": database,
        "kafka_bootstrap_servers": infra.kafka_bootstrap,
        "contact_sealing_key": new_key(),
        "nik_encryption_key": new_key(),
        "operator_tokens": f"ani:{OPERATOR_TOKEN},budi@elsewhere:{OTHER_SITE_TOKEN},"
        f"sari#supervisor:{SUPERVISOR_TOKEN},dedi@elsewhere#supervisor:{OTHER_SITE_SUPERVISOR_TOKEN}",
        **overrides,
    }
    return IntakeSettings(**values)


@contextlib.asynccontextmanager
async def running_intake(settings: IntakeSettings) -> AsyncIterator[Intake]:
    """`create_app(settings)` started, its catalogue copy holding the test site and services (call with the
    outbox relay silenced: the `intake` fixture does)."""
    site_id = settings.site_id
    app = create_app(settings)
    context: IntakeContext = app.state.context
    async with app.router.lifespan_context(app):
        await context.catalogue.wait_loaded(60)
        await context.sites.wait_loaded(60)
        context.sites.items[site_id] = SiteState(
            slug=site_id, name="Mini MPP Test", kind="mini", kemendagri_code="64.02.01"
        )
        services = (
            (SERVICE, "DUKCAPIL", (site_id,), (), "origin"),
            (NOT_OFFERED, "DUKCAPIL", (), (), "origin"),
            (CHECKED, "DUKCAPIL", (site_id,), CHECKLIST, "origin"),
            (PASSPORT, "IMIGRASI", (site_id,), (), "origin"),
            (SIM, "POLRES", (site_id,), (), "handling"),
        )
        for code, agency, sites, checklist, collected_at in services:
            context.catalogue.items[code] = ServiceAvailability(
                code=code,
                name="Penerbitan Akta Kelahiran" if code == SERVICE else f"Layanan {code}",
                agency_code=agency,
                channel="local",
                completion_days=1,
                sites=sites,
                checklist=checklist,
                collected_at=collected_at,
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield Intake(client, context, site_id, app)


@pytest.fixture
def silent_relay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mpp_kit.runtime.OutboxRelay", SilentRelay)


@pytest.fixture
async def intake(infra: Infra, database: str, silent_relay: None) -> AsyncIterator[Intake]:
    async with running_intake(intake_settings(infra, database)) as running:
        yield running
