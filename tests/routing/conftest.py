"""Routing as `create_app(settings)` builds it, on a database of its own: its context (catalogue copy, calendar,
clock) with test sites and services put in directly, and its handlers run as its consumer runs them, one event per
transaction. What routing published is read back from its outbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, cast
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from pydantic import SecretStr

import routing
from mpp_contracts.catalog import AgencyHours, Hours, ServiceAvailability, SiteState
from mpp_contracts.intake import ApplicationSubmitted
from mpp_kit.db import create_pool, migrate
from routing import handlers
from routing.app import create_app
from routing.context import RoutingContext
from routing.settings import RoutingSettings

WITA = ZoneInfo("Asia/Makassar")
MIGRATIONS = Path(routing.__file__).parent / "migrations"
WEEKDAYS_8_TO_15 = {d: Hours(opens=time(8), closes=time(15)) for d in ("mon", "tue", "wed", "thu", "fri")}
CENTRAL_ID = "mpp-tenggarong"
# Imigrasi at the central site every weekday, 08:00-09:00 in 15-minute slots at one desk: four a day.
IMIGRASI = AgencyHours(
    agency_code="IMIGRASI",
    days=("mon", "tue", "wed", "thu", "fri"),
    opens=time(8),
    closes=time(9),
    daily_quota=4,
    slot_minutes=15,
)


def site(slug: str, lead: int, kind: str = "mini", **more: Any) -> SiteState:
    return SiteState.model_validate(
        {
            "slug": slug,
            "name": f"Mini MPP Kecamatan {slug.replace('-', ' ').title()}",
            "kind": kind,
            "kemendagri_code": "64.02.12",
            "opening_hours": WEEKDAYS_8_TO_15,
            "central_lead_days": lead,
            **more,
        }
    )


CENTRAL = site(CENTRAL_ID, 0, kind="central", short_name="MPP Kukar", schedules=(IMIGRASI,))
TABANG = site("tabang", 2)
KOTA_BANGUN = site("kota-bangun", 1)
LOA_KULU = site("loa-kulu", 0)
AKTA = ServiceAvailability(
    code="DUKCAPIL-AKTA-LAHIR",
    name="Penerbitan Akta Kelahiran",
    agency_code="DUKCAPIL",
    channel="local",
    completion_days=3,
    sites=(CENTRAL_ID, "tabang", "loa-kulu", "kota-bangun"),
)
PASPOR = ServiceAvailability(
    code="IMIGRASI-PASPOR-BARU",
    name="Paspor Baru",
    agency_code="IMIGRASI",
    channel="central_only",
    central_only_reason="biometrics",
    completion_days=4,
    originals=("KTP-el",),
    sites=(CENTRAL_ID,),
)
NOWHERE = ServiceAvailability(
    code="IMIGRASI-PASPOR-HILANG",
    name="Paspor Hilang",
    agency_code="IMIGRASI",
    channel="central_only",
    central_only_reason="biometrics",
    completion_days=4,
    sites=(),
)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), WITA)


def submitted(
    service_code: str, site_id: str = "tabang", on: date = date(2026, 12, 7)
) -> ApplicationSubmitted:
    return ApplicationSubmitted(
        application_id=uuid4(),
        tracking_code="ABCD-EFGH",
        site_id=site_id,
        service_code=service_code,
        channel="counter",
        applicant_first_name="Rahmat",
        sealed_phone="sealed",
        submitted_on=on,
    )


@dataclass
class Routing:
    ctx: RoutingContext
    pool: asyncpg.Pool

    def now(self, moment: datetime) -> None:
        self.ctx.clock = lambda: moment

    async def handle(self, event: Any) -> None:
        """As the consumer does: the handler inside one transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            await handlers.on_application(conn, event, self.ctx)

    async def events(self, application_id: UUID) -> list[tuple[str, dict[str, Any]]]:
        """What routing published about an application, oldest first, as (topic, payload)."""
        rows = await self.pool.fetch(
            "SELECT topic, payload FROM outbox WHERE key = $1 ORDER BY id", str(application_id)
        )
        return [(row["topic"], json.loads(row["payload"])) for row in rows]

    async def decision(self, application_id: UUID) -> dict[str, Any]:
        return next(p for t, p in await self.events(application_id) if p.get("type") == "application.routed")

    async def starts(self, application_id: UUID) -> datetime | None:
        starts: datetime | None = await self.pool.fetchval(
            "SELECT starts_at FROM appointment WHERE application_id = $1 AND status <> 'cancelled'",
            application_id,
        )
        return starts.astimezone(WITA) if starts else None

    async def slot(self, application_id: UUID) -> datetime:
        """When the application's (not cancelled) appointment starts, which must exist."""
        starts = await self.starts(application_id)
        assert starts is not None, "no appointment"
        return starts

    async def held(self, day: date, agency: str = "IMIGRASI") -> int:
        booked: int | None = await self.pool.fetchval(
            "SELECT booked FROM appointment_day WHERE site_id = $1 AND agency_code = $2 AND day = $3",
            CENTRAL_ID,
            agency,
            day,
        )
        return booked or 0


@pytest.fixture
async def app_settings(database: str) -> RoutingSettings:
    return RoutingSettings(
        database_url=SecretStr(database), booking_horizon_days=14, routing_ops_token=SecretStr("ops-token")
    )


@pytest.fixture
async def rt(app_settings: RoutingSettings, database: str) -> AsyncIterator[Routing]:
    ctx = cast(RoutingContext, create_app(app_settings).state.context)
    ctx.services.items.update({s.code: s for s in (AKTA, PASPOR)})
    ctx.sites.items.update({s.slug: s for s in (CENTRAL, TABANG, KOTA_BANGUN, LOA_KULU)})
    await migrate(database, MIGRATIONS)
    async with await create_pool(database, max_size=20) as pool:
        ctx.pool = pool
        routing_ = Routing(ctx, pool)
        routing_.now(at(date(2026, 12, 7), 7))  # Monday 07:00 WITA, before anything opens
        yield routing_
