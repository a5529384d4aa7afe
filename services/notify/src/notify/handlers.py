"""Which SMS each event asks for. Handlers only pick a template and its variables; messages.py does the rest.

``on_routing_decision`` and ``on_application_event`` are registered by ``app.create_app`` on their topics; each
runs inside the inbox transaction of its event."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from mpp_contracts.intake import ApplicationEvent, ApplicationStatusChanged
from mpp_contracts.routing import ApplicationRouted
from mpp_kit.sealing import unseal
from notify import messages
from notify.context import NotifyContext
from notify.templates import TemplateError, format_jam, format_tanggal, render

SmsChoice = tuple[str, dict[str, Any]] | None
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


def sms_for_routing(event: ApplicationRouted) -> SmsChoice:
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
        variables = {
            **base,
            "tanggal": format_tanggal(appointment.starts_at.date()),
            "jam": format_jam(appointment.starts_at),
            "tempat": appointment.site_name,
        }
        variants = bring_variants(appointment.bring)
        bawa = next(
            (b for b in variants if fits_one_segment("diteruskan_ke_pusat", {**variables, "bawa": b})),
            variants[-1],
        )
        return "diteruskan_ke_pusat", {**variables, "bawa": bawa}
    if event.refusal_reason == "quota_full" and event.full_site_name and event.retry_from:
        return "kuota_penuh", {
            **base,
            "tempat": event.full_site_name,
            "tanggal": format_tanggal(event.retry_from),
        }
    # Not offered at this site nor centrally (e.g. a kecamatan-only service asked at the central MPP).
    return "layanan_tidak_tersedia", {
        **base,
        "lokasi": event.origin_site_name,
        "tempat": "kantor instansi terkait",
    }


def bring_variants(items: Sequence[str]) -> list[str]:
    """What to bring, from the fullest wording to the shortest; the SMS uses the first that fits one segment."""
    cleaned = [_PARENTHESES.sub("", item).strip() for item in items if item.strip()] or ["KTP-el asli"]
    variants = [", ".join(i.strip() for i in items if i.strip()), ", ".join(cleaned)]
    if len(cleaned) > 2:
        variants.append(", ".join(cleaned[:2]) + " dan dokumen asli lain")
    if len(cleaned) > 1:
        variants.append(f"{cleaned[0]} dan dokumen asli lain")
    return [v for i, v in enumerate(variants) if v and v not in variants[:i]]


def fits_one_segment(template: str, variables: dict[str, Any]) -> bool:
    try:
        return render(template, variables).segments == 1
    except TemplateError:
        return False


def sms_for_status(event: ApplicationStatusChanged) -> SmsChoice:
    base = {
        "layanan": event.service_name or event.service_code,
        "kode": event.tracking_code,
        "lokasi": event.site_name or event.site_id,
        "nama_depan": event.applicant_first_name,
    }
    if event.status == "ready_for_pickup":
        return "siap_diambil", base
    if event.status == "rejected":
        return "ditolak", {**base, "alasan": event.note or ""}  # no note: fails closed, nothing vague is sent
    return None


async def create_sms(
    conn: asyncpg.Connection, event: Any, choice: SmsChoice, ctx: NotifyContext
) -> UUID | None:
    """Store the SMS an event asks for (once per event and template), or record that the applicant declined."""
    if choice is None:
        return None
    template, variables = choice
    if not getattr(event, "sms_consent", True):
        return await messages.record_declined(
            conn, event_id=event.event_id, application_id=event.application_id, template=template
        )
    now = datetime.now(UTC)
    message_id = await messages.create(
        conn,
        event_id=event.event_id,
        application_id=event.application_id,
        template=template,
        variables=variables,
        phone_e164=unseal(event.sealed_phone, ctx.contact_key),
        not_before=ctx.quiet.not_before(template, now),
    )
    ctx.wake()
    return message_id


async def on_routing_decision(conn: asyncpg.Connection, event: ApplicationRouted, ctx: NotifyContext) -> None:
    await create_sms(conn, event, sms_for_routing(event), ctx)


async def on_application_event(conn: asyncpg.Connection, event: ApplicationEvent, ctx: NotifyContext) -> None:
    if isinstance(event, ApplicationStatusChanged):
        await create_sms(conn, event, sms_for_status(event), ctx)
