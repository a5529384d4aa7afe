"""Routing's reactions to intake's events, each inside the inbox transaction of its event: a submitted application
is routed; an appointment change request moves or gives back the appointment; a status change may give it back
(cancelled) or mark it kept (the applicant arrived at the handling site)."""

from __future__ import annotations

import asyncpg

from mpp_contracts.intake import (
    ApplicationEvent,
    ApplicationStatusChanged,
    ApplicationSubmitted,
    AppointmentChangeRequested,
)
from routing import operations
from routing.context import RoutingContext


async def on_application(conn: asyncpg.Connection, event: ApplicationEvent, ctx: RoutingContext) -> None:
    if isinstance(event, ApplicationSubmitted):
        await operations.route(conn, event, ctx)
    elif isinstance(event, AppointmentChangeRequested):
        await operations.change_appointment(conn, event, ctx)
    elif isinstance(event, ApplicationStatusChanged):
        await operations.status_changed(conn, event)
