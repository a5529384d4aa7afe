"""Routing's use cases: route a submitted application (decide, book, record, publish), move or give back an
appointment, learn an arrival, record no-shows. Each runs in one transaction: the inbox transaction of its event,
or the sweep's own, so a state change and its events commit together."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from uuid import UUID, uuid5

import asyncpg

from mpp_contracts.catalog import SiteState
from mpp_contracts.intake import ApplicationStatusChanged, ApplicationSubmitted, AppointmentChangeRequested
from mpp_contracts.routing import AppointmentCancelled, AppointmentMissed, AppointmentRescheduled
from mpp_contracts.topics import ROUTING_DECISION, site_inbox
from mpp_kit.outbox import enqueue
from routing import domain, repository
from routing.context import RoutingContext
from routing.domain import Applicant, HeldAppointment
from routing.metrics import DECISIONS

log = logging.getLogger(__name__)


async def route(conn: asyncpg.Connection, event: ApplicationSubmitted, ctx: RoutingContext) -> None:
    if await repository.is_decided(conn, event.application_id):
        return  # the same application published again: it was decided once
    service = ctx.services.get(event.service_code)
    origin = ctx.sites.get(event.site_id)
    decision = domain.decide(service, event.site_id, ctx.settings.central_site_id)
    if service is not None and decision.outcome == "central" and decision.handling_site_id:
        site = catalogued_site(ctx, decision.handling_site_id)
        # The origin's travel lead sets the earliest slot: without its site, no booking can be right.
        within = reach(ctx, catalogued_site(ctx, event.site_id), site, event.submitted_on)
        held = await book(
            conn,
            event.application_id,
            site,
            service.agency_code,
            service.code,
            service.originals,
            within,
            ctx,
        )
        starts = held.starts_at if held else None
        decision = domain.booked(decision, site, service, starts, within.retry_from)
    routed = domain.routed(event, decision, service, origin, ctx.days_off)
    await repository.record_decision(conn, event, decision, routed.service_name, routed.origin_site_name)
    DECISIONS.labels(decision.outcome, decision.reason).inc()
    key = str(event.application_id)
    await enqueue(conn, ROUTING_DECISION.name, key, routed)
    if (case := domain.forwarded(event, decision, routed)) is not None:
        await enqueue(conn, site_inbox(case.handling_site_id).name, key, case)


def catalogued_site(ctx: RoutingContext, site_id: str) -> SiteState:
    site = ctx.sites.get(site_id)
    if site is None:
        raise RuntimeError(f"site {site_id} is not in the catalogue yet")  # retried, then the DLQ
    return site


def reach(
    ctx: RoutingContext, origin: SiteState, site: SiteState, today: date, not_before: date | None = None
) -> domain.Reach:
    lead = max(origin.central_lead_days, ctx.settings.booking_lead_days)
    return domain.reach(
        ctx.clock(), today, lead, ctx.settings.booking_horizon_days, site.timezone, not_before=not_before
    )


async def book(
    conn: asyncpg.Connection,
    application_id: UUID,
    site: SiteState,
    agency_code: str,
    service_code: str,
    bring: tuple[str, ...],
    within: domain.Reach,
    ctx: RoutingContext,
    moving_from: HeldAppointment | None = None,
) -> HeldAppointment | None:
    """Take the first free seat within reach (not the one being moved from); None when every day is full. The
    seat is counted; the caller records or moves the appointment row."""
    for day, window in domain.bookable_days(site, agency_code, service_code, within, ctx.days_off):
        booked = await repository.lock_day(conn, site.slug, agency_code, day)
        if booked >= window.quota:
            continue
        taken = await repository.seats_taken(conn, site.slug, agency_code, day)
        keep_off = moving_from.slot if moving_from is not None and moving_from.day == day else None
        slot = domain.free_slot(site, day, window, booked, taken, within.earliest, keep_off)
        if slot is None:
            continue
        await repository.count_seat(conn, site.slug, agency_code, day, +1)
        held = HeldAppointment(
            application_id=application_id,
            site_id=site.slug,
            agency_code=agency_code,
            day=day,
            slot=slot,
            starts_at=domain.slot_start(site, day, window, slot),
            status="booked",
            site_name=site.sms_name,
            bring=bring,
        )
        ends = domain.day_ends(site, day, window)
        if moving_from is None:
            await repository.record_appointment(conn, held, ends)
        else:
            await repository.move_appointment(conn, application_id, day, slot, held.starts_at, ends)
        return held
    return None


async def change_appointment(
    conn: asyncpg.Connection, event: AppointmentChangeRequested, ctx: RoutingContext
) -> None:
    found = await repository.forwarded_application(conn, event.application_id)
    if found is None:
        log.warning("appointment change for %s: routing booked no appointment for it", event.application_id)
        return
    applicant, held = found
    key = f"request:{event.event_id}"
    if event.change == "cancel":
        await give_back(conn, key, applicant, held)
    else:
        await reschedule(conn, key, applicant, held, event.not_before, ctx)


async def reschedule(
    conn: asyncpg.Connection,
    key: str,
    applicant: Applicant,
    held: HeldAppointment,
    not_before: date | None,
    ctx: RoutingContext,
) -> None:
    """Move to the first free seat on or after `not_before` (the day after the current one when not given) and
    within the origin's lead; the old seat is given back in the same transaction, unless it was missed (a
    missed seat stays taken). No free seat within the horizon: the old appointment stands, and it is said."""
    if held.status == "cancelled" or await repository.change_recorded(conn, key):
        return
    site = catalogued_site(ctx, held.site_id)
    origin = catalogued_site(ctx, applicant.origin_site_id)
    today = ctx.clock().astimezone(domain.zone(site)).date()
    within = reach(ctx, origin, site, today, not_before or held.day + timedelta(days=1))
    moved = await book(
        conn,
        held.application_id,
        site,
        held.agency_code,
        applicant.service_code,
        held.bring,
        within,
        ctx,
        moving_from=held,
    )
    if moved is None:
        await repository.record_change(
            conn, key, held.application_id, "no_slot_to_reschedule", held.starts_at
        )
        await publish(
            conn, applicant, domain.rescheduled(applicant, held.appointment, None, within.retry_from)
        )
        return
    if held.status == "booked":
        await repository.lock_day(conn, held.site_id, held.agency_code, held.day)
        await repository.count_seat(conn, held.site_id, held.agency_code, held.day, -1)
    await repository.record_change(
        conn, key, held.application_id, "rescheduled", held.starts_at, moved.starts_at
    )
    await publish(conn, applicant, domain.rescheduled(applicant, held.appointment, moved.appointment, None))


async def give_back(conn: asyncpg.Connection, key: str, applicant: Applicant, held: HeldAppointment) -> None:
    """Cancel a booked appointment and free its seat. A missed appointment keeps its seat, so nothing happens."""
    if held.status != "booked" or await repository.change_recorded(conn, key):
        return
    await repository.lock_day(conn, held.site_id, held.agency_code, held.day)
    await repository.count_seat(conn, held.site_id, held.agency_code, held.day, -1)
    await repository.set_status(conn, held.application_id, "cancelled")
    await repository.record_change(conn, key, held.application_id, "cancelled", held.starts_at)
    await publish(conn, applicant, domain.cancelled(applicant, held.appointment))


async def status_changed(conn: asyncpg.Connection, event: ApplicationStatusChanged) -> None:
    """A cancellation at the origin (or handling) site gives the seat back; any status at the handling site
    that means the applicant came marks the appointment kept."""
    if event.status == "cancelled":
        found = await repository.forwarded_application(conn, event.application_id)
        if found is not None and event.site_id in (found[0].origin_site_id, found[1].site_id):
            await give_back(conn, f"status:{event.event_id}", *found)
    elif event.status in domain.ARRIVED:
        await repository.mark_checked_in(conn, event.application_id, event.site_id, event.occurred_at)


async def sweep_no_shows(ctx: RoutingContext, batch: int = 100) -> int:
    """Record as missed every booked appointment whose agency day ended (plus the grace period) without a
    check-in: once each (unique change row), its seat not given back. Answers how many."""
    ended_before = ctx.clock() - timedelta(minutes=ctx.settings.no_show_grace_minutes)
    total = 0
    while True:
        async with ctx.database().acquire() as conn, conn.transaction():
            due = await repository.due_no_shows(conn, ended_before, batch)
            for applicant, held in due:
                key = f"missed:{held.application_id}:{held.day.isoformat()}"
                await repository.set_status(conn, held.application_id, "missed")
                await repository.record_change(conn, key, held.application_id, "missed", held.starts_at)
                await publish(conn, applicant, domain.missed(applicant, held.appointment))
        total += len(due)
        if len(due) < batch:
            return total


async def publish(
    conn: asyncpg.Connection,
    applicant: Applicant,
    event: AppointmentRescheduled | AppointmentCancelled | AppointmentMissed,
) -> None:
    """On the decision topic (notify texts the applicant) and the handling site's inbox (its counter expects, or
    no longer expects, the applicant)."""
    key, inbox = str(applicant.application_id), site_inbox(applicant.handling_site_id).name
    await enqueue(conn, ROUTING_DECISION.name, key, event)
    # The same fact on another topic: its own event id (outbox rows are unique by it), derived so it is stable.
    await enqueue(conn, inbox, key, event.model_copy(update={"event_id": uuid5(event.event_id, inbox)}))
