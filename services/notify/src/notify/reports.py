"""Delivery reports: find the message a report is about and move it (idempotently, never out of a final state).

A report names our message id (``reference``, what Twilio's StatusCallback and the sandbox carry) or only the
provider's id (Zenziva takes no client reference). A report naming a provider id we do not know yet may have
overtaken the send answer (the report raced the recording of ``provider_message_id``): it is kept in
``sms_unmatched_report`` and applied when the send answer is recorded (``apply_pending``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from mpp_contracts.notify import SmsStatus
from notify import messages, repository
from notify.domain import ORDER

log = logging.getLogger(__name__)

__all__ = ["Report", "apply_pending", "apply_report", "apply_reports", "parse_reference"]


@dataclass(frozen=True)
class Report:
    """One delivery report, as any provider's webhook gives it once read."""

    reference: str | None
    provider_message_id: str | None
    status: SmsStatus
    error: str | None = None


def lock_order(batch: Sequence[Report]) -> str:
    """Where a webhook call's reports sort among others applied in the same transaction: by the message they
    name first, as the send answers do (rows locked in one order do not deadlock)."""
    first = batch[0] if batch else None
    return (first.reference or first.provider_message_id or "") if first else ""


async def apply_reports(conn: asyncpg.Connection, batch: Sequence[Report]) -> int:
    """Apply the reports of one webhook call; how many moved a message."""
    applied = 0
    for report in batch:
        applied += await apply_report(
            conn,
            reference=report.reference,
            provider_message_id=report.provider_message_id,
            status=report.status,
            error=report.error,
        )
    return applied


def parse_reference(value: str | None) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


async def apply_report(
    conn: asyncpg.Connection,
    *,
    reference: str | None,
    provider_message_id: str | None,
    status: SmsStatus,
    error: str | None = None,
) -> bool:
    """Apply one report; True when it moved a message. Unknown ids and duplicates change nothing."""
    message_id = parse_reference(reference)
    if message_id is None and provider_message_id:
        await repository.lock_provider_message_id(conn, provider_message_id)
        message_id = await repository.message_id_by_provider_id(conn, provider_message_id)
        if message_id is None:
            # A later status replaces an earlier one, never the reverse (same order as messages.set_status).
            await repository.keep_unmatched_report(conn, provider_message_id, status, error, ORDER)
            return False
    if message_id is None:
        return False
    await repository.confirm(conn, message_id)  # whatever it says, the provider has the message
    return await messages.set_status(
        conn, message_id, status, provider_message_id=provider_message_id, error=error
    )


async def apply_pending(conn: asyncpg.Connection, message_id: UUID, provider_message_id: str) -> bool:
    """Apply a report that arrived before the send answer naming ``provider_message_id`` was recorded."""
    row = await repository.take_unmatched_report(conn, provider_message_id)
    if row is None:
        return False
    log.info("early delivery report applied", extra={"message_id": str(message_id)})
    return await messages.set_status(conn, message_id, row["status"], error=row["error_code"])
