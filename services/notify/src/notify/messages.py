"""SMS messages: creating them from events, and moving them along their status machine (its rules: domain.py).

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
from prometheus_client import Counter

from mpp_contracts.notify import SmsStatus, SmsStatusChanged
from mpp_contracts.topics import NOTIFY_SMS
from mpp_kit.outbox import enqueue
from notify import repository
from notify.domain import CAPPED, DECLINED, FINAL, ORDER
from notify.templates import RenderedSms, TemplateError, render

log = logging.getLogger(__name__)
# Statuses entered through this module, with the provider ("none" before one took the message).
STATUS_CHANGES = Counter("sms_status_changes_total", "SMS entering a status", ["status", "provider"])


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
    inserted = await repository.insert_message(
        conn,
        message_id=message_id,
        event_id=event_id,
        template=template,
        template_version=sms.version if sms else 0,
        application_id=application_id,
        phone_e164=phone_e164,
        body=sms.body if sms else None,
        segments=sms.segments if sms else 0,
        status=status,
        error=error,
        traceparent=carrier.get("traceparent"),
        not_before=not_before,
    )
    if not inserted:
        return None
    STATUS_CHANGES.labels(status, "none").inc()
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
    row = await repository.move_status(
        conn,
        message_id,
        status,
        provider=provider,
        provider_message_id=provider_message_id,
        error=error,
        final=FINAL,
        order=ORDER,
    )
    if row is None:
        return False
    STATUS_CHANGES.labels(status, row["provider"] or "none").inc()
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


async def _record_unsent(
    conn: asyncpg.Connection,
    *,
    event_id: UUID,
    application_id: UUID | None,
    template: str,
    status: str,  # `declined` is ours only: not an SmsStatus of the contract
    why: str,
) -> UUID | None:
    """A message that will not be sent, kept as a trace for ops (no phone number, no body); None if this event
    had it already."""
    message_id = uuid4()
    inserted = await repository.insert_message(
        conn,
        message_id=message_id,
        event_id=event_id,
        template=template,
        template_version=0,
        application_id=application_id,
        phone_e164=None,
        body=None,
        segments=0,
        status=status,
        error=why,
        traceparent=None,
        not_before=None,
    )
    if not inserted:
        return None
    STATUS_CHANGES.labels(status, "none").inc()
    return message_id


async def record_declined(
    conn: asyncpg.Connection, *, event_id: UUID, application_id: UUID | None, template: str
) -> UUID | None:
    """The applicant declined SMS: keep a trace for ops, send nothing."""
    message_id = await _record_unsent(
        conn,
        event_id=event_id,
        application_id=application_id,
        template=template,
        status=DECLINED,
        why="the applicant declined SMS",
    )
    if message_id is not None:
        log.info(
            "SMS not sent: the applicant declined SMS",
            extra={
                "template": template,
                "application_id": str(application_id),
                "message_id": str(message_id),
            },
        )
    return message_id


# Messages recorded `capped`: a number had its daily share already (someone may be spending our SMS on it).
CAPPED_SMS = Counter("sms_capped_total", "SMS not sent: the phone number reached its daily cap", ["template"])


async def within_daily_cap(conn: asyncpg.Connection, phone_e164: str, cap: int) -> bool:
    """Whether one more SMS to this number stays within `cap` in 24 hours. Serialised per number until the
    transaction ends, so concurrent consumers cannot both take the last one."""
    await repository.lock_phone(conn, phone_e164)
    return await repository.messages_to_phone_in_a_day(conn, phone_e164) < cap


async def record_capped(
    conn: asyncpg.Connection, *, event_id: UUID, application_id: UUID | None, template: str
) -> UUID | None:
    """Over the cap: keep a trace and publish it; send nothing."""
    message_id = await _record_unsent(
        conn,
        event_id=event_id,
        application_id=application_id,
        template=template,
        status=CAPPED,
        why="the phone number reached its daily SMS cap",
    )
    if message_id is None:
        return None
    CAPPED_SMS.labels(template).inc()
    log.warning(
        "SMS not sent: the phone number reached its daily cap",
        extra={"template": template, "application_id": str(application_id), "message_id": str(message_id)},
    )
    await enqueue(
        conn,
        NOTIFY_SMS.name,
        str(application_id or message_id),
        SmsStatusChanged(
            message_id=message_id, application_id=application_id, template=template, status=CAPPED, segments=0
        ),
    )
    return message_id
