"""Intake's use cases: submit an application, move it on (by an operator or on an event), show it; a change, its
history row and its event in one transaction."""

from __future__ import annotations

import hmac
import json
import logging
import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
from prometheus_client import Counter

from intake import domain, repository
from intake.schemas import (
    ApplicationAccepted,
    ApplicationRequest,
    ApplicationSummary,
    ApplicationTracking,
    ApplicationView,
    AppointmentView,
    ChangeRequested,
    ElementScore,
    HistoryEntry,
    RescheduleRequest,
    StatusChange,
    SurveyRecorded,
    SurveySubmission,
    SurveySummary,
    TrackingStep,
    VerificationResent,
)
from intake.settings import Operator
from mpp_contracts.catalog import ServiceAvailability, SiteState
from mpp_contracts.intake import (
    VERIFICATION_CODE_PURPOSE,
    ApplicationStatus,
    ApplicationStatusChanged,
    ApplicationSubmitted,
    AppointmentChangeRequested,
    PhoneVerificationRequested,
)
from mpp_contracts.routing import Appointment, ResultReturned
from mpp_contracts.topics import INTAKE_APPLICATION, site_inbox
from mpp_kit.errors import ApiError, FieldProblem, conflict, invalid, not_found
from mpp_kit.outbox import enqueue
from mpp_kit.sealing import NIK, PHONE, seal

log = logging.getLogger(__name__)
# Fresh submits, once committed (a retry answered from its Idempotency-Key is not counted again).
SUBMITS = Counter("intake_applications_submitted_total", "Applications accepted", ["site_id", "channel"])

SYSTEM = "system"  # who changed a status when routing's or another site's event did
# Where a service's product is collected ("origin" or "handling"), from the catalogue copy.
CollectedAt = Callable[[str], str]


def request_hash(body: ApplicationRequest, key: bytes) -> str:
    """Keyed: a stored hash of a body holding a NIK cannot be checked against guessed NIKs without the key."""
    return domain.keyed_digest(key, "submit", body.model_dump_json())


def site_today(site: SiteState) -> date:
    """The site's own day: tickets reset at midnight where the site is."""
    return datetime.now(ZoneInfo(site.timezone)).date()


def offered_service(service: ServiceAvailability | None, code: str) -> ServiceAvailability:
    """The catalogue's entry for `code` (as looked up), if some site offers it; else a 422 on service_code."""
    if service is None:
        raise invalid("service_code", f"no service with code {code} in the catalogue", "unknown service")
    if not service.sites:
        raise invalid("service_code", "this service is not offered at any site", "service not offered")
    return service


def checked_requirements(body: ApplicationRequest, service: ServiceAvailability) -> tuple[str, ...]:
    """The mandatory requirements missing from the checklist (accepted only as `incomplete`); else a 422."""
    outcome = domain.check_requirements(
        service.checklist,
        named=[entry.requirement for entry in body.checklist],
        provided=[entry.requirement for entry in body.checklist if entry.provided],
    )
    problems = [
        FieldProblem(field="checklist", reason=f"not a requirement of this service: {name}")
        for name in outcome.unknown
    ]
    if outcome.missing and not body.accept_incomplete:
        problems += [FieldProblem(field="checklist", reason=f"missing: {name}") for name in outcome.missing]
    if body.accept_incomplete and body.channel == "online":
        problems.append(FieldProblem(field="accept_incomplete", reason="only at the counter or kiosk"))
    if problems:
        raise ApiError(422, "validation_failed", "the requirements checklist is not complete", problems)
    return outcome.missing


async def submit(
    pool: asyncpg.Pool,
    *,
    site: SiteState,
    body: ApplicationRequest,
    service: ServiceAvailability,
    contact_key: str,
    nik_key: str,
    idempotency_key: str | None,
    ttl_hours: int,
    hashing_key: bytes,
    verification_valid_minutes: int,
) -> tuple[int, dict[str, object]]:
    """Returns (status code, answer). A retry with the same Idempotency-Key gets the first answer.

    An online application waits for its phone (`awaiting_verification`): a one-time code is texted and nothing
    reaches routing before `verify`; counter and kiosk applications are submitted at once."""
    missing = checked_requirements(body, service)
    site_id = site.slug
    digest = request_hash(body, hashing_key)
    async with pool.acquire() as conn, conn.transaction():
        if idempotency_key:
            await repository.lock_idempotency_key(conn, site_id, idempotency_key)
            previous = await repository.stored_answer(conn, site_id, idempotency_key, ttl_hours)
            if previous is not None:
                if previous["request_hash"] != digest:
                    # Its own code (not validation_failed): the body is valid, the key is what is wrong.
                    raise ApiError(
                        422,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used for a different request",
                        [FieldProblem(field="Idempotency-Key", reason="reused with another body")],
                    )
                return int(previous["status_code"]), dict(json.loads(previous["response"]))
        now = datetime.now(ZoneInfo(site.timezone))  # the queue and the dates follow the site's own day
        ticket = None
        if domain.gets_ticket_at_submit(body.channel):
            prefix = domain.ticket_prefix(service.agency_code)
            number = await repository.next_ticket_number(conn, site_id, now.date(), prefix)
            ticket = domain.queue_ticket(prefix, number)
        application_id = uuid4()
        tracking_code = domain.new_tracking_code()
        phone_sealed = seal(body.applicant.phone, contact_key, purpose=PHONE, bound_to=application_id)
        verifying = body.channel == "online"
        status: ApplicationStatus = (
            "awaiting_verification" if verifying else "incomplete" if missing else "submitted"
        )
        await repository.insert_application(
            conn,
            id=application_id,
            tracking_code=tracking_code,
            site_id=site_id,
            service_code=service.code,
            agency_code=service.agency_code,
            channel=body.channel,
            status=status,
            applicant_name=body.applicant.name,
            nik_sealed=seal(body.applicant.nik, nik_key, purpose=NIK, bound_to=application_id),
            nik_last4=body.applicant.nik[-4:],
            phone_sealed=phone_sealed,
            phone_last4=body.applicant.phone[-4:],
            queue_ticket=ticket,
            ticket_day=now.date() if ticket else None,
            ticketed_at=now if ticket else None,
            sms_consent=body.sms_consent,
            service_name=service.name,
            checklist=json.dumps([entry.model_dump(mode="json") for entry in body.checklist]),
            missing=list(missing),
        )
        key = str(application_id)
        if verifying:
            await repository.add_history(conn, application_id, status, None, None, body.channel)
            await request_verification(
                conn,
                application_id=application_id,
                site_id=site_id,
                phone_sealed=phone_sealed,
                contact_key=contact_key,
                hashing_key=hashing_key,
                valid_minutes=verification_valid_minutes,
            )
        else:
            await repository.add_history(conn, application_id, "submitted", None, None, body.channel)
            await enqueue(
                conn,
                INTAKE_APPLICATION.name,
                key,
                ApplicationSubmitted(
                    application_id=application_id,
                    tracking_code=tracking_code,
                    site_id=site_id,
                    service_code=service.code,
                    channel=body.channel,
                    applicant_first_name=domain.first_name(body.applicant.name),
                    sealed_phone=phone_sealed,
                    submitted_on=now.date(),
                    sms_consent=body.sms_consent,
                ),
            )
        if missing:
            note = domain.missing_note(missing)
            await repository.add_history(conn, application_id, "incomplete", "submitted", note, body.channel)
            row = await repository.application(conn, site_id, application_id)
            assert row is not None
            await enqueue(
                conn, INTAKE_APPLICATION.name, key, status_changed(row, site, "submitted", note, body.channel)
            )
        answer = ApplicationAccepted(
            application_id=application_id,
            tracking_code=tracking_code,
            queue_ticket=ticket,
            site_id=site_id,
            service_code=service.code,
            status=status,
            missing=list(missing),
        ).model_dump(mode="json")
        if idempotency_key:
            await repository.store_answer(conn, site_id, idempotency_key, digest, 201, answer)
    SUBMITS.labels(site_id, body.channel).inc()
    return 201, answer


# ---- the phone's one-time code (online applications) ------------------------------------------------------


async def request_verification(
    conn: asyncpg.Connection,
    *,
    application_id: UUID,
    site_id: str,
    phone_sealed: str,
    contact_key: str,
    hashing_key: bytes,
    valid_minutes: int,
) -> None:
    """Store the code's HMAC and ask notify (sealed, so only notify reads it) to text it."""
    code = domain.new_verification_code()
    await repository.insert_verification(
        conn, application_id, domain.keyed_digest(hashing_key, str(application_id), code), valid_minutes
    )
    await _text_code(conn, code, application_id, site_id, phone_sealed, contact_key, valid_minutes)


async def _text_code(
    conn: asyncpg.Connection,
    code: str,
    application_id: UUID,
    site_id: str,
    phone_sealed: str,
    contact_key: str,
    valid_minutes: int,
) -> None:
    """The event notify texts a code from (the first one and every new one alike)."""
    await enqueue(
        conn,
        INTAKE_APPLICATION.name,
        str(application_id),
        PhoneVerificationRequested(
            application_id=application_id,
            site_id=site_id,
            sealed_phone=phone_sealed,
            sealed_code=seal(code, contact_key, purpose=VERIFICATION_CODE_PURPOSE, bound_to=application_id),
            valid_minutes=valid_minutes,
        ),
    )


async def verify(
    pool: asyncpg.Pool,
    *,
    site: SiteState,
    application_id: UUID,
    code: str,
    hashing_key: bytes,
    max_attempts: int,
) -> ApplicationAccepted:
    """The applicant's code: right, the application is `submitted` and ApplicationSubmitted goes to routing (the
    received SMS follows); wrong, one attempt fewer (422); expired or out of attempts, 409. Verifying again with
    the right code answers the same."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.verification(conn, site.slug, application_id)
        if row is None:
            raise _unknown_application()
        right = hmac.compare_digest(
            row["code_hash"], domain.keyed_digest(hashing_key, str(application_id), code)
        )
        if row["verified_at"] is not None:
            if not right:
                raise conflict("already_verified", "this application's phone is verified already", "code")
            return _accepted(row)
        if row["attempts"] >= max_attempts:
            raise conflict("verification_locked", "too many wrong codes: apply again", "code", "locked")
        if row["expired"]:
            raise conflict("verification_expired", "the code has expired: apply again", "code", "expired")
        await repository.record_verification_attempt(conn, application_id, ok=right)
        if right:
            await repository.add_history(conn, application_id, "submitted", row["status"], None, "online")
            row = await repository.set_status(conn, application_id, "submitted")
            await enqueue(
                conn,
                INTAKE_APPLICATION.name,
                str(application_id),
                ApplicationSubmitted(
                    application_id=application_id,
                    tracking_code=row["tracking_code"],
                    site_id=row["site_id"],
                    service_code=row["service_code"],
                    channel=row["channel"],
                    applicant_first_name=domain.first_name(row["applicant_name"]),
                    sealed_phone=row["phone_sealed"],
                    submitted_on=site_today(site),
                    sms_consent=row["sms_consent"],
                ),
            )
            return _accepted(row)
    # A wrong code is counted (committed above) before it is refused.
    left = max_attempts - row["attempts"] - 1
    raise invalid("code", f"wrong code; {left} attempts left", "the code is not right")


async def resend_verification(
    pool: asyncpg.Pool,
    *,
    site: SiteState,
    application_id: UUID,
    contact_key: str,
    hashing_key: bytes,
    valid_minutes: int,
    max_resends: int,
    interval_s: int,
) -> VerificationResent:
    """Text a new code to an application still `awaiting_verification`: the old code stops working, the new one
    has the full time and attempts. At most `max_resends` times per application, `interval_s` apart (429 with
    Retry-After before that; 409 once they are used up: apply again). So one application gets at most
    (max_resends + 1) x VERIFICATION_MAX_ATTEMPTS guesses of a six-digit code."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.verification(conn, site.slug, application_id)
        if row is None:
            raise _unknown_application()
        if row["status"] != "awaiting_verification" or row["verified_at"] is not None:
            raise conflict(
                "not_awaiting_verification",
                f"an application {row['status']} waits for no code",
                "status",
                "allowed from: awaiting_verification",
            )
        refusal = domain.resend_refusal(
            resends=row["resends"],
            since_last_s=row["since_sent_s"],
            max_resends=max_resends,
            interval_s=interval_s,
        )
        if refusal is not None and refusal.wait_s > 0:
            raise too_many(refusal.code, refusal.message, refusal.wait_s)
        if refusal is not None:
            raise conflict(refusal.code, refusal.message, "application_id", "no new code left")
        code = domain.new_verification_code()
        await repository.replace_verification_code(
            conn, application_id, domain.keyed_digest(hashing_key, str(application_id), code), valid_minutes
        )
        await _text_code(
            conn, code, application_id, site.slug, row["phone_sealed"], contact_key, valid_minutes
        )
    return VerificationResent(
        application_id=application_id,
        status="awaiting_verification",
        valid_minutes=valid_minutes,
        resends_left=max_resends - row["resends"] - 1,
        next_resend_after_s=interval_s,
    )


def _accepted(row: asyncpg.Record) -> ApplicationAccepted:
    return ApplicationAccepted(
        application_id=row["id"],
        tracking_code=row["tracking_code"],
        queue_ticket=row["queue_ticket"],
        site_id=row["site_id"],
        service_code=row["service_code"],
        status=row["status"],
        missing=list(row["missing"]),
    )


# ---- retention and erasure --------------------------------------------------------------------------------


async def purge_closed(
    pool: asyncpg.Pool, *, older_than_days: float, idempotency_ttl_hours: int, rate_window_s: int
) -> int:
    """The periodic retention pass: personal fields of applications closed for longer than the period, and the
    rows nobody needs any more (expired idempotency keys, past rate-limit windows, stale tracking failures)."""
    async with pool.acquire() as conn, conn.transaction():
        purged = await repository.purge_closed(conn, sorted(domain.PURGEABLE), older_than_days)
        await repository.sweep(conn, idempotency_ttl_hours=idempotency_ttl_hours, rate_window_s=rate_window_s)
    if purged:
        log.info("personal data of closed applications purged", extra={"applications": len(purged)})
    return len(purged)


async def erase(
    pool: asyncpg.Pool, *, operator: Operator, application_id: UUID, reason: str
) -> ApplicationView:
    """The applicant asked for their data to be erased: name, NIK, phone and documents of a closed application
    go now (an open one is a 409: cancel it first, which frees its appointment); the history records who and
    why. The tracking code, service and statuses stay, for the site's statistics."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, operator, application_id)
        if row["status"] not in domain.PURGEABLE:
            raise conflict(
                "application_open",
                f"an application {row['status']} is still open: cancel it before erasing its data",
                "status",
                f"allowed from: {', '.join(sorted(domain.PURGEABLE))}",
            )
        await repository.erase(conn, application_id)
        note = f"data pribadi dihapus: {reason}"
        await repository.add_history(conn, application_id, row["status"], row["status"], note, operator.name)
        return await _view(conn, operator, application_id)


# ---- moving an application on ------------------------------------------------------------------------------


def status_changed(
    row: asyncpg.Record, site: SiteState | None, previous: str | None, note: str | None, changed_by: str
) -> ApplicationStatusChanged:
    """The event of a change: `site_name` names where the application now is (notify's SMS says it)."""
    return ApplicationStatusChanged(
        application_id=row["id"],
        tracking_code=row["tracking_code"],
        site_id=row["site_id"],
        service_code=row["service_code"],
        status=row["status"],
        service_name=row["service_name"],
        site_name=site.sms_name if site else row["site_id"],
        applicant_first_name=domain.first_name(row["applicant_name"]),
        sealed_phone=row["phone_sealed"],
        note=note,
        sms_consent=row["sms_consent"],
        previous_status=previous,
        origin_site_id=row["origin_site_id"],
        changed_by=changed_by,
    )


async def move(
    conn: asyncpg.Connection,
    row: asyncpg.Record,
    status: ApplicationStatus,
    *,
    site: SiteState | None,
    note: str | None,
    changed_by: str,
) -> asyncpg.Record:
    """Record a legal change (the caller checked it): history, the new status, its event."""
    await repository.add_history(conn, row["id"], status, row["status"], note, changed_by)
    updated = await repository.set_status(conn, row["id"], status)
    await enqueue(
        conn,
        INTAKE_APPLICATION.name,
        str(row["id"]),
        status_changed(updated, site, row["status"], note, changed_by),
    )
    return updated


async def move_on_event(
    conn: asyncpg.Connection,
    row: asyncpg.Record | None,
    status: ApplicationStatus,
    *,
    site: SiteState | None,
    note: str | None,
    event: str,
) -> asyncpg.Record | None:
    """An event's change: an unknown application or a move its status does not allow is logged and skipped
    (redelivering it could never make it legal), never a crash loop."""
    if row is None:
        log.warning("event about an application unknown here", extra={"event_type": event, "status": status})
        return None
    if not domain.may_move(row["status"], status):
        log.warning(
            "event ignored: the application's status does not allow it",
            extra={
                "event_type": event,
                "application_id": str(row["id"]),
                "from": row["status"],
                "to": status,
            },
        )
        return None
    return await move(conn, row, status, site=site, note=note, changed_by=SYSTEM)


def _unknown_application() -> ApiError:
    return not_found("no such application at this site", "application_id", "unknown at this site")


async def _locked(conn: asyncpg.Connection, operator: Operator, application_id: UUID) -> asyncpg.Record:
    """The application, locked for the change, if the operator's site holds it (else the same 404 as unknown)."""
    row = await repository.application(conn, operator.site_id, application_id, lock=True)
    if row is None:
        raise _unknown_application()
    return row


def _refuse_move(current: str, wanted: str, choices: frozenset[ApplicationStatus] | None = None) -> ApiError:
    return conflict(
        "invalid_transition",
        f"an application {current} cannot become {wanted}",
        "status",
        domain.allowed_reason(current, choices),  # type: ignore[arg-type]
    )


async def change_status(
    pool: asyncpg.Pool,
    *,
    site: SiteState,
    operator: Operator,
    application_id: UUID,
    change: StatusChange,
    collected_at: CollectedAt,
) -> ApplicationView:
    """An operator moves an application on; the applicant is told through the event (notify texts some)."""
    if change.status == "ready_for_pickup":
        return await mark_ready(
            pool,
            site=site,
            operator=operator,
            application_id=application_id,
            note=change.note,
            collected_at=collected_at,
        )
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, operator, application_id)
        if not domain.may_move(row["status"], change.status):
            raise _refuse_move(row["status"], change.status, domain.OPERATOR_MOVES)
        await move(conn, row, change.status, site=site, note=change.note, changed_by=operator.name)
        return await _view(conn, operator, application_id)


async def mark_ready(
    pool: asyncpg.Pool,
    *,
    site: SiteState,
    operator: Operator,
    application_id: UUID,
    note: str | None,
    collected_at: CollectedAt,
) -> ApplicationView:
    """Finished: ready for pickup here, or (a forwarded application collected at its origin) sent back there with
    a ResultReturned on the origin site's inbox, in the same transaction."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, operator, application_id)
        target = domain.ready_status(row["origin_site_id"], site.slug, collected_at(row["service_code"]))
        if not domain.may_move(row["status"], target):
            raise _refuse_move(row["status"], target)
        await move(conn, row, target, site=site, note=note, changed_by=operator.name)
        if target == "sent_to_origin":
            origin = row["origin_site_id"]
            await enqueue(
                conn,
                site_inbox(origin).name,
                str(application_id),
                ResultReturned(
                    application_id=application_id,
                    tracking_code=row["tracking_code"],
                    origin_site_id=origin,
                    handling_site_id=site.slug,
                    handling_site_name=site.sms_name,
                    service_code=row["service_code"],
                    note=note,
                ),
            )
        return await _view(conn, operator, application_id)


async def cancel(
    pool: asyncpg.Pool, *, site: SiteState, operator: Operator, application_id: UUID, reason: str
) -> ApplicationView:
    """The applicant gives up. For a forwarded one the event also tells routing to free the central slot."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, operator, application_id)
        if not domain.may_move(row["status"], "cancelled"):
            raise _refuse_move(row["status"], "cancelled")
        await move(conn, row, "cancelled", site=site, note=reason, changed_by=operator.name)
        return await _view(conn, operator, application_id)


# Where an application has a central appointment to move (origin: forwarded; central: expected; or missed).
_HAS_APPOINTMENT: frozenset[ApplicationStatus] = frozenset({"forwarded", "expected", "no_show"})


async def request_reschedule(
    pool: asyncpg.Pool, *, operator: Operator, application_id: UUID, body: RescheduleRequest
) -> ChangeRequested:
    """Ask routing for another slot; the application changes when routing answers (AppointmentRescheduled)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, operator, application_id)
        if row["status"] not in _HAS_APPOINTMENT:
            raise conflict(
                "no_appointment",
                f"an application {row['status']} has no central appointment to move",
                "status",
                f"allowed from: {', '.join(sorted(_HAS_APPOINTMENT))}",
            )
        note = "minta jadwal baru" + (f": {body.reason}" if body.reason else "")
        await repository.add_history(conn, application_id, row["status"], row["status"], note, operator.name)
        await enqueue(
            conn,
            INTAKE_APPLICATION.name,
            str(application_id),
            AppointmentChangeRequested(
                application_id=application_id,
                tracking_code=row["tracking_code"],
                site_id=row["site_id"],
                change="reschedule",
                not_before=body.not_before,
                requested_by=operator.name,
                reason=body.reason,
            ),
        )
    return ChangeRequested(application_id=application_id, change="reschedule", status=row["status"])


async def check_in(
    pool: asyncpg.Pool, *, site: SiteState, operator: Operator, application_id: UUID
) -> ApplicationView:
    """The applicant is here: an expected arrival becomes checked in; it (and an online application) gets the
    day's ticket at its agency's counter. Checking in again the same day changes nothing."""
    today = site_today(site)
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, operator, application_id)
        if row["queue_ticket"] and row["ticket_day"] == today and row["status"] != "expected":
            return await _view(conn, operator, application_id)
        arriving = row["status"] == "expected"
        if not arriving and (row["channel"] != "online" or row["status"] in domain.FINAL):
            raise _refuse_move(row["status"], "checked_in")
        prefix = domain.ticket_prefix(row["agency_code"])
        ticket = domain.queue_ticket(
            prefix, await repository.next_ticket_number(conn, site.slug, today, prefix)
        )
        row = await repository.set_ticket(conn, application_id, ticket, today)
        note = f"nomor antrean {ticket}"
        if arriving:
            await move(conn, row, "checked_in", site=site, note=note, changed_by=operator.name)
        else:
            await repository.add_history(
                conn, application_id, row["status"], row["status"], note, operator.name
            )
        return await _view(conn, operator, application_id)


# ---- reactions to routing's and other sites' events (inside the consumer's inbox transaction) -------------


def appointment_json(appointment: Appointment) -> dict[str, Any]:
    return appointment.model_dump(mode="json")


def appointment_day(appointment: Appointment, site: SiteState | None) -> date:
    """The appointment's day where it takes place."""
    zone = ZoneInfo(site.timezone) if site else appointment.starts_at.tzinfo
    return appointment.starts_at.astimezone(zone).date()


async def expect_arrival(
    conn: asyncpg.Connection,
    *,
    site: SiteState | None,
    site_id: str,
    case: Any,
    agency_code: str,
    phone_last4: str,
) -> None:
    """A case forwarded here: the applicant is expected on the appointment's day (same application id)."""
    appointment = case.appointment
    inserted = await repository.insert_application(
        conn,
        id=case.application_id,
        tracking_code=case.tracking_code,
        site_id=site_id,
        origin_site_id=case.origin_site_id,
        origin_site_name=case.origin_site_name or case.origin_site_id,
        service_code=case.service_code,
        service_name=case.service_name or case.service_code,
        agency_code=agency_code,
        channel="counter",  # the applicant comes in person
        status="expected",
        applicant_name=case.applicant_first_name,
        phone_sealed=case.sealed_phone,
        phone_last4=phone_last4,
        sms_consent=case.sms_consent,
        appointment=json.dumps(appointment_json(appointment)) if appointment else None,
        appointment_day=appointment_day(appointment, site) if appointment else None,
    )
    if inserted:
        note = f"diteruskan dari {case.origin_site_name or case.origin_site_id}"
        await repository.add_history(conn, case.application_id, "expected", None, note, SYSTEM)
        row = await repository.application(conn, site_id, case.application_id)
        assert row is not None
        await enqueue(
            conn,
            INTAKE_APPLICATION.name,
            str(case.application_id),
            status_changed(row, site, None, note, SYSTEM),
        )


async def appointment_moved(
    conn: asyncpg.Connection,
    row: asyncpg.Record | None,
    appointment: Appointment | None,
    *,
    site: SiteState | None,
    note: str,
) -> None:
    """A new slot (or none free: the old one stays). A missed appointment booked again waits once more."""
    if row is None or appointment is None or row["status"] in domain.FINAL:
        return
    day = appointment_day(appointment, site) if row["origin_site_id"] else None
    await repository.set_appointment(conn, row["id"], appointment_json(appointment), day)
    if row["status"] == "no_show":
        waiting: ApplicationStatus = "expected" if row["origin_site_id"] else "forwarded"
        await move(conn, row, waiting, site=site, note=note, changed_by=SYSTEM)
    else:
        await repository.add_history(conn, row["id"], row["status"], row["status"], note, SYSTEM)


# ---- reads -------------------------------------------------------------------------------------------------


async def application(pool: asyncpg.Pool, *, operator: Operator, application_id: UUID) -> ApplicationView:
    async with pool.acquire() as conn:
        return await _view(conn, operator, application_id)


async def queue(
    pool: asyncpg.Pool,
    *,
    site: SiteState,
    operator: Operator,
    day: date | None,
    status: str | None,
    agency_code: str | None,
    channel: str | None,
) -> list[ApplicationSummary]:
    async with pool.acquire() as conn:
        rows = await repository.queue(
            conn,
            operator.site_id,
            day or site_today(site),
            status=status,
            agency_code=agency_code,
            channel=channel,
        )
    return [_summary(row) for row in rows]


async def pickups(pool: asyncpg.Pool, *, operator: Operator) -> list[ApplicationSummary]:
    async with pool.acquire() as conn:
        rows = await repository.waiting_for_pickup(conn, operator.site_id)
    return [_summary(row) for row in rows]


async def arrivals(
    pool: asyncpg.Pool,
    *,
    site: SiteState,
    operator: Operator,
    day: date | None,
    agency_code: str | None,
    status: str | None,
) -> list[ApplicationSummary]:
    async with pool.acquire() as conn:
        rows = await repository.arrivals(
            conn, operator.site_id, day or site_today(site), agency_code=agency_code, status=status
        )
    return [_summary(row) for row in rows]


async def search(
    pool: asyncpg.Pool, *, site: SiteState, operator: Operator, text: str, limit: int
) -> list[ApplicationSummary]:
    async with pool.acquire() as conn:
        rows = await repository.search(conn, operator.site_id, text.strip(), site_today(site), limit)
    return [_summary(row) for row in rows]


def too_many(code: str, message: str, retry_after_s: float) -> ApiError:
    return ApiError(429, code, message, headers={"Retry-After": str(max(1, math.ceil(retry_after_s)))})


async def throttle(
    pool: asyncpg.Pool, *, endpoint: str, client: str, limit: int, window_s: int, hashing_key: bytes
) -> None:
    """Count one call of a public endpoint by a client address (kept as an HMAC) in the current window, shared by
    every replica through the database; over `limit`, 429 with the seconds until the window ends."""
    bucket = domain.keyed_digest(hashing_key, "rate", endpoint, client)
    hits, left_s = await repository.count_hit(pool, bucket, window_s)
    if hits > limit:
        raise too_many(
            "rate_limited", f"too many requests from this address; retry in {math.ceil(left_s)} s", left_s
        )


async def track(
    pool: asyncpg.Pool,
    *,
    site_id: str,
    site_name: str,
    tracking_code: str,
    phone_last4: str,
    hashing_key: bytes,
    max_failures: int,
    lock_minutes: int,
) -> ApplicationTracking:
    """Public tracking: the tracking code plus the last four digits of the phone (never the NIK, the full name or
    the phone). A code asked with wrong digits `max_failures` times is locked for `lock_minutes` (429), whether
    an application has it or not, so the lock tells nothing either."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _proven(
            conn,
            site_id=site_id,
            tracking_code=tracking_code,
            phone_last4=phone_last4,
            hashing_key=hashing_key,
            max_failures=max_failures,
            lock_minutes=lock_minutes,
        )
        steps = await repository.history(conn, row["id"]) if row is not None else []
        answered = await repository.survey_answered(conn, row["id"]) if row is not None else False
    if row is None:
        raise _not_tracked()  # after the commit: the failure counts
    appointment = _appointment(row)
    waiting_elsewhere = row["status"] in ("forwarded", "expected") and appointment is not None
    return ApplicationTracking(
        tracking_code=row["tracking_code"],
        status=row["status"],
        service_code=row["service_code"],
        service_name=row["service_name"],
        site_id=row["site_id"],
        updated_at=row["updated_at"],
        next_step=domain.next_step(
            row["status"], appointment.site_name if waiting_elsewhere and appointment else site_name
        ),
        appointment=appointment,
        history=[
            TrackingStep(status=s["status"], at=s["changed_at"], note=s["note"])
            for s in steps
            if s["status"] != s["previous_status"]  # status changes only, not the operators' own notes
        ],
        survey=domain.survey_state(row["status"], answered),
    )


async def _proven(
    conn: asyncpg.Connection,
    *,
    site_id: str,
    tracking_code: str,
    phone_last4: str,
    hashing_key: bytes,
    max_failures: int,
    lock_minutes: int,
) -> asyncpg.Record | None:
    """The application of a tracking code whose phone ends with `phone_last4`; None when no application has the
    code or the digits are wrong, counted as a failure (the caller commits it, then answers `_not_tracked`). A
    code asked with wrong digits `max_failures` times is locked for `lock_minutes` (429), whether an application
    has it or not, so the lock tells nothing either. Tracking and the survey prove ownership alike."""
    code = tracking_code.upper()
    code_hash = domain.keyed_digest(hashing_key, "tracking", site_id, code)
    locked_for = await repository.tracking_locked_for(conn, code_hash)
    if locked_for is not None:
        raise too_many(
            "tracking_locked", "too many wrong phone digits for this code; retry later", locked_for
        )
    row = await repository.find_by_tracking_code(conn, site_id, code)
    right = (
        row is not None and bool(row["phone_last4"]) and hmac.compare_digest(row["phone_last4"], phone_last4)
    )
    if not right:
        await repository.tracking_failed(
            conn, code_hash, max_failures=max_failures, lock_minutes=lock_minutes
        )
        return None
    await repository.tracking_succeeded(conn, code_hash)
    return row


def _not_tracked() -> ApiError:
    # Same answer for an unknown code and wrong digits: do not reveal that a tracking code exists.
    return not_found(
        "no application with this tracking code and phone",
        "tracking_code",
        "not found for these phone digits",
    )


# ---- the satisfaction survey (SKM) -------------------------------------------------------------------------


async def answer_survey(
    pool: asyncpg.Pool,
    *,
    site_id: str,
    body: SurveySubmission,
    hashing_key: bytes,
    max_failures: int,
    lock_minutes: int,
) -> SurveyRecorded:
    """The applicant's answers to the nine elements, once their application is completed: proven theirs like
    tracking (wrong digits count toward the same lock), one response per application (a second is a 409). Only
    the application's id, site and service are kept with the scores, nothing personal."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            row = await _proven(
                conn,
                site_id=site_id,
                tracking_code=body.tracking_code,
                phone_last4=body.phone_last4,
                hashing_key=hashing_key,
                max_failures=max_failures,
                lock_minutes=lock_minutes,
            )
        if row is None:
            raise _not_tracked()  # after the commit above: the failure counts
        if row["status"] not in domain.SURVEY_OPENS_AT:
            raise conflict(
                "survey_not_open",
                f"the survey opens once the application is completed; it is {row['status']}",
                "status",
                f"opens at: {', '.join(sorted(domain.SURVEY_OPENS_AT))}",
            )
        answers = body.answers.model_dump()
        answered_at = await repository.insert_survey(
            conn,
            application_id=row["id"],
            site_id=row["site_id"],
            service_code=row["service_code"],
            scores={key: answers[key] for key in domain.SURVEY_KEYS},
            suggestion=body.suggestion,
        )
    if answered_at is None:
        raise conflict(
            "survey_done",
            "this application's survey is answered already",
            "tracking_code",
            "answered already",
        )
    return SurveyRecorded(tracking_code=row["tracking_code"], survey="done", answered_at=answered_at)


SURVEY_DAYS = (date(2000, 1, 1), date(2999, 12, 31))


def survey_period(site: SiteState, first_day: date | None, last_day: date | None) -> tuple[date, date]:
    """The days a summary counts: by default from the first day of the current half-year (SKM is reported per
    semester at least) to today, where the site is. A first day after the last is a 422."""
    last = last_day or site_today(site)
    first = first_day or date(last.year, 1 if last.month <= 6 else 7, 1)
    # Days a timestamp can hold either side of the site's midnight (year 1 or 9999 would overflow: a 422).
    for name, day in (("from", first), ("to", last)):
        if not SURVEY_DAYS[0] <= day <= SURVEY_DAYS[1]:
            raise invalid(name, f"must be between {SURVEY_DAYS[0]} and {SURVEY_DAYS[1]}")
    if first > last:
        raise invalid("from", "must be on or before `to`")
    return first, last


async def survey_summary(
    pool: asyncpg.Pool,
    *,
    site: SiteState,
    operator: Operator,
    first_day: date | None,
    last_day: date | None,
) -> SurveySummary:
    """The IKM of the operator's own site over the responses answered on the days asked (the site's days)."""
    first, last = survey_period(site, first_day, last_day)
    zone = ZoneInfo(site.timezone)
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(last + timedelta(days=1), time.min, zone)
    async with pool.acquire() as conn:
        responses, totals = await repository.survey_totals(
            conn, operator.site_id, domain.SURVEY_KEYS, start, end
        )
    index = domain.survey_index(responses, totals)
    return SurveySummary(
        site_id=operator.site_id,
        first_day=first,
        last_day=last,
        responses=responses,
        elements=[
            ElementScore(
                element=f"U{number}",
                key=key,
                name=name,
                nrr=float(index.nrr[number - 1]) if index else None,
            )
            for number, (key, name) in enumerate(domain.SURVEY_ELEMENTS, start=1)
        ],
        ikm=float(index.ikm) if index else None,
        band=index.band if index else None,
        quality=index.quality if index else None,
    )


def _appointment(row: asyncpg.Record) -> AppointmentView | None:
    return AppointmentView(**json.loads(row["appointment"])) if row["appointment"] else None


def _summary(row: asyncpg.Record) -> ApplicationSummary:
    return ApplicationSummary(
        application_id=row["id"],
        **{k: row[k] for k in ApplicationSummary.model_fields if k != "application_id"},
    )


async def _view(conn: asyncpg.Connection, operator: Operator, application_id: UUID) -> ApplicationView:
    row = await repository.application(conn, operator.site_id, application_id)
    if row is None:
        raise _unknown_application()
    fields = {
        k: row[k]
        for k in ApplicationView.model_fields
        if k not in ("application_id", "appointment", "history", "missing")
    }
    return ApplicationView(
        application_id=row["id"],
        appointment=_appointment(row),
        missing=list(row["missing"]),
        history=[HistoryEntry(**dict(entry)) for entry in await repository.history(conn, application_id)],
        **fields,
    )
