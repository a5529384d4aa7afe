"""Routing's reaction to a submitted application: decide, book a central appointment, record, publish (and
forward to the central site's inbox). Each runs inside the inbox transaction of its event."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg

from mpp_contracts.catalog import ServiceAvailability, SiteState
from mpp_contracts.intake import ApplicationEvent, ApplicationSubmitted
from mpp_contracts.topics import ROUTING_DECISION, site_inbox
from mpp_kit.outbox import enqueue
from routing import domain, repository
from routing.context import RoutingContext
from routing.settings import RoutingSettings


async def on_application(conn: asyncpg.Connection, event: ApplicationEvent, ctx: RoutingContext) -> None:
    if isinstance(event, ApplicationSubmitted):  # status changes on the same topic are not routing's
        await route(conn, event, ctx)


async def route(conn: asyncpg.Connection, event: ApplicationSubmitted, ctx: RoutingContext) -> None:
    service = ctx.services.get(event.service_code)
    decision = domain.decide(service, event.site_id, ctx.settings.central_site_id)
    if service is not None and decision.outcome == "central" and decision.handling_site_id:
        site = catalogued_site(ctx, decision.handling_site_id)
        decision = await book_central(conn, event, service, decision, site, ctx.settings)
    await repository.record_decision(conn, event, decision)
    key = str(event.application_id)
    routed = domain.routed(event, decision, service, ctx.sites.get(event.site_id))
    await enqueue(conn, ROUTING_DECISION.name, key, routed)
    if (case := domain.forwarded(event, decision)) is not None:
        await enqueue(conn, site_inbox(case.handling_site_id).name, key, case)


async def book_central(
    conn: asyncpg.Connection,
    event: ApplicationSubmitted,
    service: ServiceAvailability,
    decision: domain.Decision,
    site: SiteState,
    settings: RoutingSettings,
) -> domain.Decision:
    """The central decision with its appointment, or refused when the quota is full up to the horizon."""
    starts = await book(
        conn,
        application_id=event.application_id,
        site=site,
        agency_code=service.agency_code,
        service_code=service.code,
        today=event.submitted_on,
        lead_days=settings.booking_lead_days,
        horizon_days=settings.booking_horizon_days,
    )
    return domain.booked(decision, site, service, starts, event.submitted_on, settings.booking_horizon_days)


def catalogued_site(ctx: RoutingContext, site_id: str) -> SiteState:
    site = ctx.sites.get(site_id)
    if site is None:
        raise RuntimeError(f"site {site_id} is not in the catalogue yet")  # retried, then the DLQ
    return site


async def book(
    conn: asyncpg.Connection,
    *,
    application_id: UUID,
    site: SiteState,
    agency_code: str,
    service_code: str,
    today: date,
    lead_days: int,
    horizon_days: int,
) -> datetime | None:
    """Take the first free slot from `today + lead_days` within the horizon; None when every day is full.
    An application booked already keeps its slot."""
    starts = await repository.appointment_start(conn, application_id)
    if starts is not None:
        return starts
    for day, window in domain.bookable_days(site, agency_code, service_code, today, lead_days, horizon_days):
        nth = await repository.take_place(conn, site.slug, agency_code, day, window.quota)
        if nth is not None:
            slot, starts = domain.slot_of(site, day, window, nth)
            await repository.record_appointment(
                conn, application_id, site.slug, agency_code, day, slot, starts
            )
            return starts
    return None
