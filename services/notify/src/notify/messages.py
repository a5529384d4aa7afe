"""SMS messages: creating them from events, and their status machine.

created -> sending -> sent -> delivered, or one of the failures. delivered and the failures are final: a final
state is never overwritten (a late or duplicated report changes nothing). ``declined`` (the applicant said no
to SMS) is a final status of notify's own table only: nothing was rendered or sent, and it is not published.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from opentelemetry import propagate

from mpp_contracts.notify import SmsStatus, SmsStatusChanged
from mpp_contracts.topics import NOTIFY_SMS
from mpp_kit.outbox import enqueue
from notify.templates import RenderedSms, TemplateError, render

log = logging.getLogger(__name__)

FINAL: tuple[SmsStatus, ...] = ("delivered", "permanent_failure", "temporary_failure", "technical_failure")
# Statuses only move forward along this order (a late "sending" report cannot undo "sent").
ORDER: tuple[SmsStatus, ...] = ("created", "sending", "sent", *FINAL)
# Stored when the applicant declined SMS: final, not in ORDER (so set_status never moves it), not published.
DECLINED = "declined"


async def create(
    conn: asyncpg.Connection,
    *,
    event_id: UUID,
    application_id: UUID | None,
    template: str,
    variables: dict[str, Any],
    phone_e164: str,
    not_before: datetime | None = None,
) -> UUID | None:
    """Render and store one SMS to send. Returns its id, or None if this event already has one.

    ``not_before`` delays the first send (quiet hours); by default it is due at once.
    """
    message_id = uuid4()
    try:
        sms: RenderedSms | None = render(template, variables)
        status: SmsStatus = "created"
        error = None
    except TemplateError as exc:
        # Fail closed: a wrong SMS costs a wasted trip; record why nothing was sent.
        sms, status, error = None, "technical_failure", f"{type(exc).__name__}: {exc}"
        log.error("SMS not rendered", extra={"template": template, "error": error})
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # the send, later and in another task, continues this trace
    inserted = await conn.fetchval(
        "INSERT INTO sms_message(id, event_id, template, template_version, application_id, phone_e164, body,"
        " segments, status, last_error, traceparent, next_attempt_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, coalesce($12, now()))"
        " ON CONFLICT (event_id, template) DO NOTHING RETURNING true",
        message_id,
        event_id,
        template,
        sms.version if sms else 0,
        application_id,
        phone_e164,
        sms.body if sms else None,
        sms.segments if sms else 0,
        status,
        error,
        carrier.get("traceparent"),
        not_before,
    )
    if not inserted:
        return None
    await enqueue(
        conn,
        NOTIFY_SMS.name,
        str(application_id or message_id),
        SmsStatusChanged(
            message_id=message_id,
            application_id=application_id,
            template=template,
            status=status,
            segments=sms.segments if sms else 0,
        ),
    )
    return message_id


async def set_status(
    conn: asyncpg.Connection,
    message_id: UUID,
    status: SmsStatus,
    *,
    provider: str | None = None,
    provider_message_id: str | None = None,
    error: str | None = None,
) -> bool:
    """Move a message to `status` unless it is already final. Publishes the change. Returns whether it moved."""
    row = await conn.fetchrow(
        "UPDATE sms_message SET status = $2, provider = coalesce($3, provider),"
        " provider_message_id = coalesce($4, provider_message_id), last_error = coalesce($5, last_error),"
        " updated_at = now() WHERE id = $1 AND status <> ALL($6::text[])"
        " AND array_position($7::text[], status) < array_position($7::text[], $2::text)"
        " RETURNING application_id, template, segments, provider",
        message_id,
        status,
        provider,
        provider_message_id,
        error,
        list(FINAL),
        list(ORDER),
    )
    if row is None:
        return False
    await enqueue(
        conn,
        NOTIFY_SMS.name,
        str(row["application_id"] or message_id),
        SmsStatusChanged(
            message_id=message_id,
            application_id=row["application_id"],
            template=row["template"],
            status=status,
            provider=row["provider"],
            segments=row["segments"],
        ),
    )
    return True


async def record_declined(
    conn: asyncpg.Connection, *, event_id: UUID, application_id: UUID | None, template: str
) -> UUID | None:
    """The applicant declined SMS: keep a trace for ops (no phone number, no body), send nothing."""
    message_id = uuid4()
    inserted = await conn.fetchval(
        "INSERT INTO sms_message(id, event_id, template, template_version, application_id, segments, status,"
        " last_error) VALUES ($1, $2, $3, 0, $4, 0, $5, 'the applicant declined SMS')"
        " ON CONFLICT (event_id, template) DO NOTHING RETURNING true",
        message_id,
        event_id,
        template,
        application_id,
        DECLINED,
    )
    if not inserted:
        return None
    log.info(
        "SMS not sent: the applicant declined SMS",
        extra={"template": template, "application_id": str(application_id), "message_id": str(message_id)},
    )
    return message_id


_OPS_COLUMNS = (
    "id, event_id, application_id, template, template_version, status, segments, provider, provider_message_id,"
    " attempts, next_attempt_at, last_error, phone_e164, purged_at, created_at, updated_at"
)


async def get(conn: asyncpg.Connection, message_id: UUID) -> asyncpg.Record | None:
    """One message for the ops API (the body is never read)."""
    return await conn.fetchrow(f"SELECT {_OPS_COLUMNS} FROM sms_message WHERE id = $1", message_id)


async def for_application(
    conn: asyncpg.Connection, application_id: UUID, limit: int = 100
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            f"SELECT {_OPS_COLUMNS} FROM sms_message WHERE application_id = $1 ORDER BY created_at, id LIMIT $2",
            application_id,
            limit,
        )
    )
