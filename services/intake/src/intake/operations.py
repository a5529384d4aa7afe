"""Intake's use cases: submit an application, move it on, show it; a change and its event in one transaction."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg

from intake import repository
from intake.domain import TRANSITIONS, first_name, new_tracking_code, queue_ticket
from intake.schemas import (
    ApplicationAccepted,
    ApplicationRequest,
    ApplicationTracking,
    ApplicationView,
    StatusChange,
)
from mpp_contracts.catalog import ServiceAvailability, SiteState
from mpp_contracts.intake import ApplicationStatusChanged, ApplicationSubmitted
from mpp_contracts.topics import INTAKE_APPLICATION
from mpp_kit.errors import ApiError, FieldProblem, conflict, invalid, not_found
from mpp_kit.outbox import enqueue
from mpp_kit.sealing import seal


def request_hash(body: ApplicationRequest) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def offered_service(service: ServiceAvailability | None, code: str) -> ServiceAvailability:
    """The catalogue's entry for `code` (as looked up), if some site offers it; else a 422 on service_code."""
    if service is None:
        raise invalid("service_code", f"no service with code {code} in the catalogue", "unknown service")
    if not service.sites:
        raise invalid("service_code", "this service is not offered at any site", "service not offered")
    return service


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
) -> tuple[int, dict[str, object]]:
    """Returns (status code, answer). A retry with the same Idempotency-Key gets the first answer."""
    site_id = site.slug
    digest = request_hash(body)
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
        number = await repository.next_queue_number(conn, site_id, now.date())
        application_id = uuid4()
        tracking_code = new_tracking_code()
        ticket = queue_ticket(number, body.channel)
        phone_sealed = seal(body.applicant.phone, contact_key)
        await repository.insert_application(
            conn,
            id=application_id,
            tracking_code=tracking_code,
            site_id=site_id,
            service_code=service.code,
            channel=body.channel,
            status="submitted",
            applicant_name=body.applicant.name,
            nik_sealed=seal(body.applicant.nik, nik_key),
            nik_last4=body.applicant.nik[-4:],
            phone_sealed=phone_sealed,
            phone_last4=body.applicant.phone[-4:],
            queue_ticket=ticket,
            sms_consent=body.sms_consent,
            service_name=service.name,
        )
        await enqueue(
            conn,
            INTAKE_APPLICATION.name,
            str(application_id),
            ApplicationSubmitted(
                application_id=application_id,
                tracking_code=tracking_code,
                site_id=site_id,
                service_code=service.code,
                channel=body.channel,
                applicant_first_name=first_name(body.applicant.name),
                sealed_phone=phone_sealed,
                submitted_on=now.date(),
                sms_consent=body.sms_consent,
            ),
        )
        answer = ApplicationAccepted(
            application_id=application_id,
            tracking_code=tracking_code,
            queue_ticket=ticket,
            site_id=site_id,
            service_code=service.code,
            status="submitted",
        ).model_dump(mode="json")
        if idempotency_key:
            await repository.store_answer(conn, site_id, idempotency_key, digest, 201, answer)
    return 201, answer


def _unknown_application() -> ApiError:
    return not_found("no such application at this site", "application_id", "unknown at this site")


async def application(pool: asyncpg.Pool, *, site_id: str, application_id: UUID) -> ApplicationView:
    async with pool.acquire() as conn:
        row = await repository.application(conn, site_id, application_id)
    if row is None:
        raise _unknown_application()
    return _view(row)


async def change_status(
    pool: asyncpg.Pool, *, site: SiteState, application_id: UUID, change: StatusChange, operator: str
) -> ApplicationView:
    """An operator moves an application on; the applicant is told through the event (notify texts them)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.application(conn, site.slug, application_id, lock=True)
        if row is None:
            raise _unknown_application()
        allowed = TRANSITIONS[row["status"]]
        if change.status not in allowed:
            raise conflict(
                "invalid_transition",
                f"an application {row['status']} cannot become {change.status}",
                "status",
                f"allowed from {row['status']}: {', '.join(sorted(allowed)) or 'none (it is final)'}",
            )
        updated = await repository.set_status(conn, application_id, change.status, change.note, operator)
        await enqueue(
            conn,
            INTAKE_APPLICATION.name,
            str(application_id),
            ApplicationStatusChanged(
                application_id=application_id,
                tracking_code=row["tracking_code"],
                site_id=site.slug,
                service_code=row["service_code"],
                status=change.status,
                service_name=row["service_name"],
                site_name=site.sms_name,
                applicant_first_name=first_name(row["applicant_name"]),
                sealed_phone=row["phone_sealed"],
                note=change.note,
                sms_consent=row["sms_consent"],
            ),
        )
    return _view(updated)


async def track(
    pool: asyncpg.Pool, *, site_id: str, tracking_code: str, phone_last4: str
) -> ApplicationTracking:
    """Public tracking: the tracking code plus the last four digits of the phone (never the NIK)."""
    async with pool.acquire() as conn:
        row = await repository.find_by_tracking_code(conn, site_id, tracking_code.upper())
    if row is None or row["phone_last4"] != phone_last4:
        # Same answer for both: do not reveal that a tracking code exists.
        raise not_found(
            "no application with this tracking code and phone",
            "tracking_code",
            "not found for these phone digits",
        )
    return ApplicationTracking(**{name: row[name] for name in ApplicationTracking.model_fields})


def _view(row: asyncpg.Record) -> ApplicationView:
    return ApplicationView(
        application_id=row["id"], **{k: row[k] for k in ApplicationView.model_fields if k != "application_id"}
    )
