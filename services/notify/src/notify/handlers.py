"""Which SMS each event asks for. Handlers only pick a template (the tables in domain.py) and its variables;
messages.py does the rest.

``on_routing_decision`` (every event of ``routing.decision.v1``) and ``on_application_event`` (intake's status
changes) are registered by ``app.create_app`` on their topics; each runs inside the inbox transaction of its
event, and stores at most one SMS per (event, template)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from mpp_contracts.intake import (
    VERIFICATION_CODE_PURPOSE,
    ApplicationEvent,
    ApplicationStatusChanged,
    PhoneVerificationRequested,
)
from mpp_contracts.routing import (
    ApplicationRouted,
    Appointment,
    AppointmentCancelled,
    AppointmentMissed,
    AppointmentRescheduled,
    DecisionEvent,
)
from mpp_kit.sealing import PHONE, unseal
from notify import domain, messages
from notify.context import NotifyContext
from notify.templates import TemplateError, format_jam, format_tanggal, render

SmsChoice = tuple[str, dict[str, Any]] | None
_PARENTHESES = re.compile(r"\s*\([^)]*\)")
_COMMA_OUTSIDE_PARENTHESES = re.compile(r",\s*(?![^()]*\))")
_MISSING_NOTE_PREFIX = "Belum lengkap:"  # intake's note of an `incomplete` status
# The last resort of a moved appointment's "what to bring": the first appointment SMS listed the originals.
_BRING_AS_BEFORE = "dokumen asli"


def sms_for_decision(event: DecisionEvent) -> SmsChoice:
    if isinstance(event, ApplicationRouted):
        return sms_for_routing(event)
    return sms_for_appointment(event)


def sms_for_routing(event: ApplicationRouted) -> SmsChoice:
    case = domain.decision_case(event)
    template = domain.DECISION_SMS[case]
    base = {
        "layanan": event.service_name,
        "kode": event.tracking_code,
        "nama_depan": event.applicant_first_name,
    }
    if case == "received":
        tanggal = format_tanggal(event.expected_completion) if event.expected_completion else ""
        return template, {**base, "lokasi": event.origin_site_name, "tanggal": tanggal}
    if case == "forwarded":
        if event.appointment is None:
            return template, base  # fails closed (no date yet) rather than send a vague SMS
        return template, appointment_variables(template, base, event.appointment)
    if case == "quota_full":
        tanggal = format_tanggal(event.retry_from) if event.retry_from else ""
        return template, {**base, "tempat": event.full_site_name, "tanggal": tanggal}
    # Not offered at this site nor centrally (e.g. a kecamatan-only service asked at the central MPP).
    return template, {**base, "lokasi": event.origin_site_name, "tempat": "kantor instansi terkait"}


def sms_for_appointment(
    event: AppointmentRescheduled | AppointmentCancelled | AppointmentMissed,
) -> SmsChoice:
    """A central appointment moved (or could not be), was given back, or was missed."""
    template = domain.DECISION_SMS[domain.decision_case(event)]
    base = {
        "layanan": event.service_name or event.service_code,
        "kode": event.tracking_code,
        "nama_depan": event.applicant_first_name,
    }
    if isinstance(event, AppointmentRescheduled) and event.appointment is not None:
        return template, appointment_variables(
            template, base, event.appointment, last_resort=_BRING_AS_BEFORE
        )
    if isinstance(event, AppointmentRescheduled):
        mulai = format_tanggal(event.retry_from) if event.retry_from else ""  # none: fails closed
        return template, {**base, **_when_and_where(event.previous), "mulai": mulai}
    if isinstance(event, AppointmentCancelled):
        return template, {**base, **_when_and_where(event.previous)}
    return template, {**base, **_when_and_where(event.appointment), "lokasi": event.origin_site_name}


def appointment_variables(
    template: str, base: dict[str, Any], appointment: Appointment, *, last_resort: str | None = None
) -> dict[str, Any]:
    """Date, time, place and what to bring, the latter shortened only as far as one SMS segment needs."""
    variants = bring_variants(appointment.bring)
    if last_resort:
        variants.append(last_resort)
    return with_first_fitting(template, {**base, **_when_and_where(appointment)}, "bawa", variants)


def _when_and_where(appointment: Appointment) -> dict[str, str]:
    return {
        "tanggal": format_tanggal(appointment.starts_at.date()),
        "jam": format_jam(appointment.starts_at),
        "tempat": appointment.site_name,
    }


def bring_variants(items: Sequence[str]) -> list[str]:
    """What to bring, from the fullest wording to the shortest; the SMS uses the first that fits one segment."""
    return list_variants(items, others="dokumen asli lain") or ["KTP-el asli"]


def list_variants(items: Sequence[str], *, others: str) -> list[str]:
    """A list of items, from the fullest wording to the shortest: whole, without parenthesised details, the
    first two and ``others``, the first and ``others``. Empty for no items."""
    cleaned = [_PARENTHESES.sub("", item).strip() for item in items if item.strip()]
    variants = [", ".join(i.strip() for i in items if i.strip()), ", ".join(cleaned)]
    if len(cleaned) > 2:
        variants.append(", ".join(cleaned[:2]) + f" dan {others}")
    if len(cleaned) > 1:
        variants.append(f"{cleaned[0]} dan {others}")
    return [v for i, v in enumerate(variants) if v and v not in variants[:i]]


def with_first_fitting(
    template: str, variables: dict[str, Any], name: str, variants: Sequence[str]
) -> dict[str, Any]:
    """``variables`` with ``name`` set to the first variant keeping the SMS in one segment, else the last one
    (two segments are tolerated); blank without variants, so the SMS fails closed."""
    chosen = next(
        (v for v in variants if fits_one_segment(template, {**variables, name: v})),
        variants[-1] if variants else "",
    )
    return {**variables, name: chosen}


def fits_one_segment(template: str, variables: dict[str, Any]) -> bool:
    try:
        return render(template, variables).segments == 1
    except TemplateError:
        return False


def missing_items(note: str | None) -> list[str]:
    """The requirements named in an `incomplete` note ("Belum lengkap: KK, Surat pengantar (RT, RW)")."""
    text = (note or "").strip()
    if text.lower().startswith(_MISSING_NOTE_PREFIX.lower()):
        text = text[len(_MISSING_NOTE_PREFIX) :]
    return [item.strip() for item in _COMMA_OUTSIDE_PARENTHESES.split(text) if item.strip()]


def sms_for_status(event: ApplicationStatusChanged) -> SmsChoice:
    template = domain.STATUS_SMS[event.status]
    if template is None:
        return None
    base = {
        "layanan": event.service_name or event.service_code,
        "kode": event.tracking_code,
        "lokasi": event.site_name or event.site_id,
        "nama_depan": event.applicant_first_name,
    }
    if event.status == "rejected":
        return template, {**base, "alasan": event.note or ""}  # no note: fails closed, nothing vague is sent
    if event.status == "incomplete":
        items = missing_items(event.note)
        variants = list_variants(items, others="persyaratan lain")
        if items:  # the last resort: how many, when even the first one's name is too long
            variants.append(f"{len(items)} persyaratan wajib")
        return template, with_first_fitting(template, base, "kurang", variants)
    return template, base


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
    phone = unseal(event.sealed_phone, ctx.contact_key, purpose=PHONE, bound_to=event.application_id)
    if not await messages.within_daily_cap(conn, phone, ctx.settings.sms_daily_cap_per_phone):
        return await messages.record_capped(
            conn, event_id=event.event_id, application_id=event.application_id, template=template
        )
    message_id = await messages.create(
        conn,
        event_id=event.event_id,
        application_id=event.application_id,
        template=template,
        variables=variables,
        phone_e164=phone,
        # A code is worth something only now: never held back by quiet hours.
        not_before=None if template == domain.VERIFICATION_SMS else ctx.quiet.not_before(template, now),
    )
    ctx.wake()
    return message_id


async def on_routing_decision(conn: asyncpg.Connection, event: DecisionEvent, ctx: NotifyContext) -> None:
    await create_sms(conn, event, sms_for_decision(event), ctx)


async def on_application_event(conn: asyncpg.Connection, event: ApplicationEvent, ctx: NotifyContext) -> None:
    if isinstance(event, ApplicationStatusChanged):
        await create_sms(conn, event, sms_for_status(event), ctx)
    elif isinstance(event, PhoneVerificationRequested):
        await create_sms(conn, event, sms_for_verification(event, ctx), ctx)


def sms_for_verification(event: PhoneVerificationRequested, ctx: NotifyContext) -> SmsChoice:
    """The online applicant's one-time code (sent whatever the SMS consent: the applicant asked for it)."""
    code = unseal(
        event.sealed_code, ctx.contact_key, purpose=VERIFICATION_CODE_PURPOSE, bound_to=event.application_id
    )
    return domain.VERIFICATION_SMS, {"kode": code}
