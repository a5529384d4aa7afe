"""Intake's reactions to events, each inside the inbox transaction of its event (once per event):

- `routing.decision.v1` (every site's decisions; this site acts on those about its own applications): routed
  locally, forwarded with an appointment, or refused; the appointment moved, given back or missed;
- `site.<this site>.inbox.v1`: a case forwarded here (an expected arrival), its appointment moved, given back or
  missed, and a result returned here for pickup.

An event this site's application cannot take (an unknown application, a move its status does not allow) is
logged and skipped: retrying could not change that, and the consumer must go on.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from intake import domain, operations, repository
from intake.context import IntakeContext
from mpp_contracts.routing import (
    ApplicationForwarded,
    ApplicationRouted,
    AppointmentCancelled,
    AppointmentEvent,
    AppointmentMissed,
    AppointmentRescheduled,
    DecisionEvent,
    InboxEvent,
    ResultReturned,
)
from mpp_kit.sealing import PHONE, SealingError, unseal


def is_this_sites(event: DecisionEvent, ctx: IntakeContext) -> bool:
    """Whether a decision is about an application submitted here (every site reads the whole topic)."""
    return event.origin_site_id == ctx.settings.site_id


async def on_decision(conn: asyncpg.Connection, event: DecisionEvent, ctx: IntakeContext) -> None:
    if not is_this_sites(event, ctx):
        return  # another site's application (the consumer skips those before; a direct call may not)
    if isinstance(event, ApplicationRouted):
        await on_routed(conn, event, ctx)
    else:
        await on_appointment_event(conn, event, ctx)


async def on_inbox(conn: asyncpg.Connection, event: InboxEvent, ctx: IntakeContext) -> None:
    if isinstance(event, ApplicationForwarded):
        await on_forwarded(conn, event, ctx)
    elif isinstance(event, ResultReturned):
        await on_result_returned(conn, event, ctx)
    else:
        await on_appointment_event(conn, event, ctx)


async def on_routed(conn: asyncpg.Connection, event: ApplicationRouted, ctx: IntakeContext) -> None:
    """Routing decided: handled here, at the central site with an appointment, or refused (with its reason)."""
    row = await repository.application(conn, ctx.settings.site_id, event.application_id, lock=True)
    if event.outcome == "central" and row is not None and event.appointment is not None:
        await repository.set_appointment(
            conn, row["id"], operations.appointment_json(event.appointment), None
        )
    note = event.reason_text or event.refusal_reason
    status = domain.ROUTED_STATUS[event.outcome]
    await operations.move_on_event(conn, row, status, site=ctx.this_site(), note=note, event=event.type)


async def on_forwarded(conn: asyncpg.Connection, event: ApplicationForwarded, ctx: IntakeContext) -> None:
    """A case for this site: expected on its appointment's day."""
    service = ctx.catalogue.get(event.service_code)
    await operations.expect_arrival(
        conn,
        site=ctx.this_site(),
        site_id=ctx.settings.site_id,
        case=event,
        agency_code=service.agency_code if service else event.service_code.split("-")[0],
        phone_last4=_phone_last4(event.sealed_phone, event.application_id, ctx),
    )


async def on_result_returned(conn: asyncpg.Connection, event: ResultReturned, ctx: IntakeContext) -> None:
    """The central site finished it: ready for pickup here, where it was submitted."""
    row = await repository.application(conn, ctx.settings.site_id, event.application_id, lock=True)
    note = event.note or (f"hasil dari {event.handling_site_name}" if event.handling_site_name else None)
    await operations.move_on_event(
        conn, row, "ready_for_pickup", site=ctx.this_site(), note=note, event=event.type
    )


async def on_appointment_event(conn: asyncpg.Connection, event: AppointmentEvent, ctx: IntakeContext) -> None:
    """The central appointment moved, was given back (cancelled) or missed (no-show): at the origin and at the
    central site alike."""
    row = await repository.application(conn, ctx.settings.site_id, event.application_id, lock=True)
    site = ctx.this_site()
    note = event.reason_text or event.reason
    if isinstance(event, AppointmentRescheduled):
        await operations.appointment_moved(conn, row, event.appointment, site=site, note=note)
    elif isinstance(event, AppointmentCancelled):
        await operations.move_on_event(conn, row, "cancelled", site=site, note=note, event=event.type)
    elif isinstance(event, AppointmentMissed):
        await operations.move_on_event(conn, row, "no_show", site=site, note=note, event=event.type)


def _phone_last4(sealed_phone: str, application_id: UUID, ctx: IntakeContext) -> str:
    """The operator's and tracking's last digits, from the sealed number (intake holds the contact key)."""
    try:
        key = ctx.settings.contact_sealing_key.get_secret_value()
        return unseal(sealed_phone, key, purpose=PHONE, bound_to=application_id)[-4:]
    except SealingError:
        return ""
