"""Routing's reaction to a submitted application: decide, record, publish (and forward to central)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from mpp_contracts.catalog import ServiceAvailability, SiteState
from mpp_contracts.intake import ApplicationEvent, ApplicationSubmitted
from mpp_contracts.routing import ApplicationForwarded, ApplicationRouted, Appointment
from mpp_contracts.topics import INTAKE_APPLICATION, ROUTING_DECISION, site_inbox
from mpp_kit.outbox import enqueue
from mpp_kit.readmodel import ReadModel
from mpp_kit.runtime import ServiceRuntime
from routing import booking
from routing.domain import Decision, add_working_days, decide
from routing.settings import RoutingSettings


def register(
    runtime: ServiceRuntime,
    settings: RoutingSettings,
    services: ReadModel[Any, ServiceAvailability],
    sites: ReadModel[Any, SiteState],
) -> None:
    @runtime.consume(INTAKE_APPLICATION, ApplicationEvent, name="routing")
    async def on_application(conn: asyncpg.Connection, event: ApplicationEvent) -> None:
        if isinstance(event, ApplicationSubmitted):
            await route(conn, event)

    def site_name(site_id: str | None) -> str:
        site = sites.get(site_id) if site_id else None
        return site.name if site else (site_id or "")

    async def route(conn: asyncpg.Connection, event: ApplicationSubmitted) -> None:
        service = services.get(event.service_code)
        decision = decide(service, event.site_id, settings.central_site_id)
        appointment = None
        full_site_name, retry_from = None, None
        if decision.outcome == "central" and service is not None and decision.handling_site_id:
            appointment = await book_central(conn, event, service, decision.handling_site_id)
            if appointment is None:
                full_site = sites.get(decision.handling_site_id)
                full_site_name = full_site.sms_name if full_site else None
                retry_from = event.submitted_on + timedelta(days=settings.booking_horizon_days + 1)
                decision = Decision("refused", None, refusal_reason="quota_full")
        await conn.execute(
            "INSERT INTO routing_decision(application_id, origin_site_id, service_code, outcome, handling_site_id,"
            " reason) VALUES ($1, $2, $3, $4, $5, $6)",
            event.application_id,
            event.site_id,
            event.service_code,
            decision.outcome,
            decision.handling_site_id,
            decision.refusal_reason or decision.central_only_reason,
        )
        routed = ApplicationRouted(
            application_id=event.application_id,
            tracking_code=event.tracking_code,
            origin_site_id=event.site_id,
            origin_site_name=site_name(event.site_id),
            service_code=event.service_code,
            service_name=service.name if service else event.service_code,
            outcome=decision.outcome,
            handling_site_id=decision.handling_site_id,
            refusal_reason=decision.refusal_reason,
            central_only_reason=decision.central_only_reason,
            expected_completion=(
                add_working_days(event.submitted_on, service.completion_days, sites.get(event.site_id))
                if service and decision.outcome == "local"
                else None
            ),
            appointment=appointment,
            full_site_name=full_site_name,
            retry_from=retry_from,
            applicant_first_name=event.applicant_first_name,
            sealed_phone=event.sealed_phone,
            sms_consent=event.sms_consent,
        )
        key = str(event.application_id)
        await enqueue(conn, ROUTING_DECISION.name, key, routed)
        if decision.outcome == "central" and decision.handling_site_id:
            await enqueue(
                conn,
                site_inbox(decision.handling_site_id).name,
                key,
                ApplicationForwarded(
                    application_id=event.application_id,
                    tracking_code=event.tracking_code,
                    origin_site_id=event.site_id,
                    handling_site_id=decision.handling_site_id,
                    service_code=event.service_code,
                    central_only_reason=decision.central_only_reason,
                    appointment=appointment,
                ),
            )

    async def book_central(
        conn: asyncpg.Connection, event: ApplicationSubmitted, service: ServiceAvailability, site_id: str
    ) -> Appointment | None:
        site = sites.get(site_id)
        if site is None:
            raise RuntimeError(f"site {site_id} is not in the catalogue yet")  # retried, then the DLQ
        starts = await booking.book(
            conn,
            application_id=event.application_id,
            site=site,
            agency_code=service.agency_code,
            service_code=service.code,
            today=event.submitted_on,
            lead_days=settings.booking_lead_days,
            horizon_days=settings.booking_horizon_days,
        )
        if starts is None:
            return None
        return Appointment(
            site_id=site.slug,
            site_name=site.sms_name,
            starts_at=starts,
            bring=service.originals,
        )
