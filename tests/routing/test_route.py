"""Routing a submitted application through the real app's wiring (create_app) on a real database: what is recorded
and what goes to the outbox, for a local, a central and a quota-full central application."""

from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import asyncpg
import pytest
from pydantic import SecretStr

import routing
from mpp_contracts.catalog import AgencyHours, Hours, ServiceAvailability, SiteState
from mpp_contracts.intake import ApplicationStatusChanged, ApplicationSubmitted
from mpp_kit.db import migrate
from routing import handlers
from routing.app import create_app
from routing.context import RoutingContext
from routing.settings import RoutingSettings

MONDAY = date(2026, 12, 7)
WEEKDAYS_8_TO_15 = {d: Hours(opens=time(8), closes=time(15)) for d in ("mon", "tue", "wed", "thu", "fri")}
CENTRAL = SiteState(
    slug="mpp-tenggarong",
    name="Mal Pelayanan Publik Kabupaten Kutai Kartanegara",
    short_name="MPP Kukar",
    kind="central",
    kemendagri_code="64.02.06",
    opening_hours=WEEKDAYS_8_TO_15,
    schedules=(
        AgencyHours(
            agency_code="IMIGRASI",
            days=("wed",),
            opens=time(8),
            closes=time(12),
            daily_quota=1,
            slot_minutes=15,
        ),
    ),
)
TABANG = SiteState(
    slug="tabang",
    name="Mini MPP Kecamatan Tabang",
    kind="mini",
    kemendagri_code="64.02.12",
    opening_hours=WEEKDAYS_8_TO_15,
)
AKTA = ServiceAvailability(
    code="DUKCAPIL-AKTA-LAHIR",
    name="Penerbitan Akta Kelahiran",
    agency_code="DUKCAPIL",
    channel="local",
    completion_days=3,
    sites=("mpp-tenggarong", "tabang"),
)
PASPOR = ServiceAvailability(
    code="IMIGRASI-PASPOR-BARU",
    name="Paspor Baru",
    agency_code="IMIGRASI",
    channel="central_only",
    central_only_reason="biometrics",
    completion_days=4,
    originals=("KTP-el",),
    sites=("mpp-tenggarong",),
)


@pytest.fixture
async def routed(database: str):
    """Route an application as the consumer registered by create_app would, in one transaction; answer the
    events it put in the outbox as {topic: payload}."""
    settings = RoutingSettings(database_url=SecretStr(database), booking_horizon_days=7)
    ctx = cast(RoutingContext, create_app(settings).state.context)
    ctx.services.items.update({s.code: s for s in (AKTA, PASPOR)})
    ctx.sites.items.update({s.slug: s for s in (CENTRAL, TABANG)})
    await migrate(database, Path(routing.__file__).parent / "migrations")
    conn = await asyncpg.connect(database)

    async def route(event: Any) -> dict[str, dict[str, Any]]:
        async with conn.transaction():
            await conn.execute("DELETE FROM outbox")
            await handlers.on_application(conn, event, ctx)
        rows = await conn.fetch("SELECT topic, payload FROM outbox")
        return {r["topic"]: json.loads(r["payload"]) for r in rows}

    try:
        yield route
    finally:
        await conn.close()


def submitted(service_code: str) -> ApplicationSubmitted:
    return ApplicationSubmitted(
        application_id=uuid4(),
        tracking_code="ABCD-EFGH",
        site_id="tabang",
        service_code=service_code,
        channel="counter",
        applicant_first_name="Rahmat",
        sealed_phone="sealed",
        submitted_on=MONDAY,
    )


async def test_local_service_stays_at_the_site_with_an_expected_completion(routed: Any) -> None:
    events = await routed(submitted(AKTA.code))
    assert set(events) == {"routing.decision.v1"}
    decision = events["routing.decision.v1"]
    assert (decision["outcome"], decision["handling_site_id"]) == ("local", "tabang")
    assert decision["origin_site_name"] == "Mini MPP Kecamatan Tabang"
    assert decision["expected_completion"] == "2026-12-10"


async def test_central_only_service_is_booked_and_forwarded_then_refused_when_the_quota_is_full(
    routed: Any,
) -> None:
    events = await routed(submitted(PASPOR.code))
    decision, case = events["routing.decision.v1"], events["site.mpp-tenggarong.inbox.v1"]
    assert (decision["outcome"], decision["central_only_reason"]) == ("central", "biometrics")
    assert decision["appointment"] == case["appointment"]
    assert case["appointment"]["starts_at"] == "2026-12-09T08:00:00+08:00"
    assert (case["appointment"]["site_name"], case["appointment"]["bring"]) == ("MPP Kukar", ["KTP-el"])

    # One place each Wednesday; the next Wednesday (the 16th) lies past the 7-day horizon.
    events = await routed(submitted(PASPOR.code))
    assert set(events) == {"routing.decision.v1"}
    refusal = events["routing.decision.v1"]
    assert (refusal["outcome"], refusal["refusal_reason"], refusal["appointment"]) == (
        "refused",
        "quota_full",
        None,
    )
    assert (refusal["full_site_name"], refusal["retry_from"]) == ("MPP Kukar", "2026-12-15")


async def test_status_changes_are_not_routed(routed: Any) -> None:
    changed = ApplicationStatusChanged(
        application_id=uuid4(),
        tracking_code="ABCD-EFGH",
        site_id="tabang",
        service_code=AKTA.code,
        status="in_progress",
        applicant_first_name="Rahmat",
        sealed_phone="sealed",
    )
    assert await routed(changed) == {}
