"""Which SMS each event asks for. Handlers only pick a template and its variables; messages.py does the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from mpp_contracts.intake import ApplicationEvent, ApplicationStatusChanged
from mpp_contracts.routing import ApplicationRouted
from mpp_contracts.topics import INTAKE_APPLICATION, ROUTING_DECISION
from mpp_kit.runtime import ServiceRuntime
from mpp_kit.sealing import unseal

from notify import messages
from notify.templates import format_jam, format_tanggal


def sms_for_routing(event: ApplicationRouted) -> tuple[str, dict[str, Any]] | None:
    base = {
        "layanan": event.service_name,
        "kode": event.tracking_code,
        "nama_depan": event.applicant_first_name,
    }
    if event.outcome == "local":
        tanggal = format_tanggal(event.expected_completion) if event.expected_completion else ""
        return "permohonan_diterima", {**base, "lokasi": event.origin_site_name, "tanggal": tanggal}
    if event.outcome == "central":
        appointment = event.appointment
        if appointment is None:
            return "diteruskan_ke_pusat", base  # fails closed (no date yet) rather than send a vague SMS
        return "diteruskan_ke_pusat", {
            **base,
            "tanggal": format_tanggal(appointment.starts_at.date()),
            "jam": format_jam(appointment.starts_at),
            "tempat": appointment.site_name,
            "bawa": ", ".join(appointment.bring) or "KTP asli",
        }
    return "layanan_tidak_tersedia", {**base, "lokasi": event.origin_site_name, "tempat": "MPP pusat"}


def sms_for_status(event: ApplicationStatusChanged) -> tuple[str, dict[str, Any]] | None:
    if event.status == "ready_for_pickup":
        return "siap_diambil", {
            "layanan": event.service_code,
            "kode": event.tracking_code,
            "lokasi": event.site_id,
            "nama_depan": event.applicant_first_name,
        }
    return None


def register(runtime: ServiceRuntime, contact_key: Callable[[], str], wake: Callable[[], None]) -> None:
    async def create(conn: asyncpg.Connection, event: Any, choice: tuple[str, dict[str, Any]] | None) -> None:
        if choice is None:
            return
        template, variables = choice
        await messages.create(
            conn,
            event_id=event.event_id,
            application_id=event.application_id,
            template=template,
            variables=variables,
            phone_e164=unseal(event.sealed_phone, contact_key()),
        )
        wake()

    @runtime.consume(ROUTING_DECISION, ApplicationRouted, name="notify-routing")
    async def on_routed(conn: asyncpg.Connection, event: ApplicationRouted) -> None:
        await create(conn, event, sms_for_routing(event))

    @runtime.consume(INTAKE_APPLICATION, ApplicationEvent, name="notify-intake")
    async def on_application(conn: asyncpg.Connection, event: ApplicationEvent) -> None:
        if isinstance(event, ApplicationStatusChanged):
            await create(conn, event, sms_for_status(event))
