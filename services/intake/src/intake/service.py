"""Submitting an application: validate against the catalogue, store it and its event in one transaction."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg

from intake import repository
from intake.domain import TRANSITIONS, first_name, new_tracking_code, queue_ticket
from intake.schemas import ApplicationAccepted, ApplicationRequest, ApplicationView, StatusChange
from mpp_contracts.catalog import ServiceAvailability, SiteState
from mpp_contracts.intake import ApplicationStatusChanged, ApplicationSubmitted
from mpp_contracts.topics import INTAKE_APPLICATION
from mpp_kit.errors import ApiError, FieldProblem
from mpp_kit.outbox import enqueue
from mpp_kit.sealing import seal


def request_hash(body: ApplicationRequest) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def check_service(service: ServiceAvailability | None, code: str) -> None:
    if service is None:
        raise ApiError(
            422,
            "validation_failed",
            "unknown service",
            [FieldProblem(field="service_code", reason=f"no service with code {code} in the catalogue")],
        )
    if not service.sites:
        raise ApiError(
            422,
            "validation_failed",
            "service not offered",
            [FieldProblem(field="service_code", reason="this service is not offered at any site")],
        )


async def submit(
    pool: asyncpg.Pool,
    *,
    site: SiteState,
    body: ApplicationRequest,
    service: ServiceAvailability,
    contact_key: str,
    nik_key: str,
    idempotency_key: str | None,
    ttl_hours: int = 24,
) -> tuple[int, dict[str, object]]:
    """Returns (status code, answer). A retry with the same Idempotency-Key gets the first answer."""
    site_id = site.slug
    digest = request_hash(body)
    async with pool.acquire() as conn, conn.transaction():
        if idempotency_key:
            # Serialise concurrent retries of the same key; the second waits and then replays.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2))", site_id, idempotency_key
            )
            previous = await repository.stored_answer(conn, site_id, idempotency_key, ttl_hours)
            if previous is not None:
                if previous["request_hash"] != digest:
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


async def change_status(
    pool: asyncpg.Pool, *, site: SiteState, application_id: UUID, change: StatusChange, operator: str
) -> ApplicationView:
    """An operator moves an application on; the applicant is told through the event (notify texts them)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.application(conn, site.slug, application_id, lock=True)
        if row is None:
            raise ApiError(
                404,
                "not_found",
                "no such application at this site",
                [FieldProblem(field="application_id", reason="unknown at this site")],
            )
        if change.status not in TRANSITIONS[row["status"]]:
            allowed = ", ".join(sorted(TRANSITIONS[row["status"]])) or "none (it is final)"
            raise ApiError(
                409,
                "invalid_transition",
                f"an application {row['status']} cannot become {change.status}",
                [FieldProblem(field="status", reason=f"allowed from {row['status']}: {allowed}")],
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
    return view(updated)


def view(row: asyncpg.Record) -> ApplicationView:
    return ApplicationView(
        application_id=row["id"], **{k: row[k] for k in ApplicationView.model_fields if k != "application_id"}
    )
