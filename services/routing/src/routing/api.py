"""Routing's ops read API (bearer token ROUTING_OPS_TOKEN): central appointments per slot for an agency and day,
and the day's decisions per outcome and origin site. The kit adds /healthz, /readyz and /metrics."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from mpp_contracts.routing import Outcome
from mpp_kit import http
from mpp_kit.auth import bearer
from mpp_kit.errors import error_responses
from routing import domain, repository
from routing.context import RoutingContext

AGENCY_CODE = r"^[A-Z][A-Z0-9]{1,19}$"
SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"


def context(request: Request) -> RoutingContext:
    return cast(RoutingContext, request.app.state.context)


Ctx = Annotated[RoutingContext, Depends(http.app_context(RoutingContext))]

ops_token = bearer(
    lambda request: {context(request).settings.routing_ops_token.get_secret_value(): "ops"},
    scheme_name="routingOpsToken",
    description="the routing ops token (ROUTING_OPS_TOKEN)",
)

router = APIRouter(tags=["ops"], dependencies=[Depends(ops_token)])


class SlotLoad(BaseModel):
    starts_at: datetime
    booked: int = Field(description="seats held (booked or missed; a cancelled appointment frees its seat)")
    left: int = Field(description="seats still free in this slot (desks in parallel minus booked)")


class DayLoad(BaseModel):
    site_id: str
    agency_code: str
    day: date
    serving: bool = Field(description="false when the agency does not serve at the site that day")
    closed_because: str | None = Field(default=None, description="the public holiday or cuti bersama, if any")
    quota: int
    booked: int
    left: int = Field(description="places left in the day's quota")
    slots: list[SlotLoad]


class DecisionCounts(BaseModel):
    day: date
    timezone: str
    by_outcome: dict[Outcome, int]
    by_origin_site: dict[str, dict[Outcome, int]]


@router.get(
    "/appointments",
    response_model=DayLoad,
    responses=error_responses(401, 422),
    summary="Central appointments of an agency on a day: seats booked and left per slot",
)
async def appointments(
    ctx: Ctx,
    agency_code: Annotated[str, Query(pattern=AGENCY_CODE, description="the agency, e.g. IMIGRASI")],
    day: Annotated[date, Query(description="the day, YYYY-MM-DD")],
    site_id: Annotated[
        str | None, Query(pattern=SLUG, description="the handling site (the central site when absent)")
    ] = None,
) -> DayLoad:
    site_id = site_id or ctx.settings.central_site_id
    async with ctx.database().acquire() as conn:
        booked, by_start = await repository.seats_by_slot(conn, site_id, agency_code, day)
    return day_load(ctx, site_id, agency_code, day, booked, by_start)


def day_load(
    ctx: RoutingContext, site_id: str, agency_code: str, day: date, booked: int, by_start: dict[datetime, int]
) -> DayLoad:
    site = ctx.sites.get(site_id)
    window = None
    if site is not None:
        schedule = domain.schedule_for_agency(site, agency_code)
        window = domain.window_on(site, schedule, day, ctx.days_off)
    slots: list[SlotLoad] = []
    if site is not None and window is not None:
        for slot in range(window.slots):
            starts = domain.slot_start(site, day, window, slot)
            taken = by_start.pop(starts, 0)
            slots.append(SlotLoad(starts_at=starts, booked=taken, left=max(window.counters - taken, 0)))
    # Seats held outside today's window (the schedule changed after they were booked) are still shown.
    slots += [SlotLoad(starts_at=s, booked=n, left=0) for s, n in sorted(by_start.items())]
    quota = window.quota if window is not None else 0
    return DayLoad(
        site_id=site_id,
        agency_code=agency_code,
        day=day,
        serving=window is not None,
        closed_because=ctx.days_off.name_of(day),
        quota=quota,
        booked=booked,
        left=max(quota - booked, 0),
        slots=sorted(slots, key=lambda s: s.starts_at),
    )


@router.get(
    "/decisions/summary",
    response_model=DecisionCounts,
    responses=error_responses(401, 422),
    summary="The day's routing decisions, counted per outcome and per origin site",
)
async def decisions_summary(
    ctx: Ctx, day: Annotated[date, Query(description="the day, YYYY-MM-DD, in the central site's time zone")]
) -> DecisionCounts:
    central = ctx.sites.get(ctx.settings.central_site_id)
    timezone = central.timezone if central is not None else "Asia/Makassar"
    async with ctx.database().acquire() as conn:
        rows = await repository.decisions_on(conn, day, timezone)
    by_outcome: Counter[Outcome] = Counter()
    by_site: dict[str, dict[Outcome, int]] = {}
    for row in rows:
        by_outcome[row["outcome"]] += row["n"]
        by_site.setdefault(row["origin_site_id"], {})[row["outcome"]] = row["n"]
    return DecisionCounts(day=day, timezone=timezone, by_outcome=dict(by_outcome), by_origin_site=by_site)
