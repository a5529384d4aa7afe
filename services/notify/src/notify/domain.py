"""Notify's rules, pure (no I/O, no SQL): which SMS template each event gets, the status machine of a message,
when a message no provider took is tried again, and what a `sending` message's provider-call markers say.

Their users: ``handlers.py`` (which template), ``messages.py`` (status changes), ``dispatch.py`` (retries,
unconfirmed messages), ``api.py`` (the ops view). The SQL that applies them is in ``repository.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from mpp_contracts.intake import (
    ApplicationEvent,
    ApplicationStatus,
    ApplicationStatusChanged,
    PhoneVerificationRequested,
)
from mpp_contracts.notify import SmsStatus
from mpp_contracts.routing import (
    AppointmentCancelled,
    AppointmentMissed,
    AppointmentRescheduled,
    DecisionEvent,
)

__all__ = [
    "CAPPED",
    "DECISION_SMS",
    "DECLINED",
    "FINAL",
    "ORDER",
    "STATUS_SMS",
    "VERIFICATION_SMS",
    "DecisionCase",
    "RetryPolicy",
    "decision_case",
    "may_text",
    "unconfirmed_since",
]

# ---- which SMS an event gets --------------------------------------------------------------------------------

# What routing's event on `routing.decision.v1` says to the applicant.
DecisionCase = Literal[
    "received",  # handled at the site where it was submitted
    "forwarded",  # handled at the central site, with a booked appointment
    "quota_full",  # refused: no free slot within the booking horizon
    "not_available",  # refused: offered neither at the site nor centrally (or unknown since the submit)
    "moved",  # the appointment moved to a new slot
    "not_moved",  # a move was asked, no slot was free: the old appointment stands
    "cancelled",  # the appointment was given back
    "missed",  # the applicant did not come to the appointment
]
DECISION_SMS: Mapping[DecisionCase, str] = {
    "received": "permohonan_diterima",
    "forwarded": "diteruskan_ke_pusat",
    "quota_full": "kuota_penuh",
    "not_available": "layanan_tidak_tersedia",
    "moved": "jadwal_dipindah",
    "not_moved": "jadwal_tetap",
    "cancelled": "jadwal_dibatalkan",
    "missed": "tidak_hadir",
}

# Intake's status changes: every status is named, so a new one is a decision, not an accident. None: no SMS,
# because routing's own event already texts that moment, or because the status is a site's own bookkeeping.
STATUS_SMS: Mapping[ApplicationStatus, str | None] = {
    "submitted": None,  # routing's decision texts the receipt
    "incomplete": "belum_lengkap",
    "routed_local": None,  # texted from routing's decision
    "forwarded": None,  # texted from routing's decision (the appointment)
    "refused": None,  # texted from routing's decision (the refusal)
    "expected": None,  # the central site's list of arrivals
    "checked_in": None,  # the applicant is at the counter
    "in_progress": None,
    "ready_for_pickup": "siap_diambil",  # emitted by the site where it is collected
    "sent_to_origin": None,  # the origin site's ready_for_pickup is texted instead
    "completed": None,  # collected
    "cancelled": None,  # texted from routing's AppointmentCancelled (both sites emit this status)
    "rejected": "ditolak",
    "no_show": None,  # texted from routing's AppointmentMissed (both sites emit this status)
    "awaiting_verification": None,  # its own event (PhoneVerificationRequested) texts the code
}


def may_text(event: ApplicationEvent) -> bool:
    """Whether one of intake's events can ask for an SMS at all: the others (a submit, most status changes) are
    skipped by notify's consumer without a transaction."""
    if isinstance(event, PhoneVerificationRequested):
        return True
    return isinstance(event, ApplicationStatusChanged) and STATUS_SMS[event.status] is not None


def decision_case(event: DecisionEvent) -> DecisionCase:
    if isinstance(event, AppointmentRescheduled):
        return "moved" if event.appointment is not None else "not_moved"
    if isinstance(event, AppointmentCancelled):
        return "cancelled"
    if isinstance(event, AppointmentMissed):
        return "missed"
    if event.outcome == "local":
        return "received"
    if event.outcome == "central":
        return "forwarded"
    if event.refusal_reason == "quota_full" and event.full_site_name and event.retry_from:
        return "quota_full"
    return "not_available"


# ---- a message's status machine -----------------------------------------------------------------------------

# created -> sending -> sent -> delivered, or one of the failures. A final state is never overwritten.
FINAL: tuple[SmsStatus, ...] = ("delivered", "permanent_failure", "temporary_failure", "technical_failure")
# Statuses only move forward along this order (a late "sending" report cannot undo "sent").
ORDER: tuple[SmsStatus, ...] = ("created", "sending", "sent", *FINAL)
# Stored when the applicant declined SMS: final, not in ORDER (so a status change never moves it), not published.
DECLINED = "declined"
# Stored, not sent, when the phone number had SMS_DAILY_CAP_PER_PHONE messages in the last 24 hours: final, not in
# ORDER; published (someone may be spending our SMS on a stranger's number).
CAPPED: SmsStatus = "capped"
VERIFICATION_SMS = "kode_verifikasi"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 2.0
    max_s: float = 300.0

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds before the next attempt after ``attempts`` claims: base * 2**attempts, capped."""
        delay: float = min(self.max_s, self.base_s * 2.0 ** min(attempts, 30))
        if retry_after:
            delay = min(self.max_s, max(delay, retry_after))
        return delay


def unconfirmed_since(
    status: str, call_started_at: datetime | None, confirmed_at: datetime | None
) -> datetime | None:
    """When the provider call of a message that may or may not be at the provider started: `sending`, a call
    marked, and no answer, report or lookup confirming it since. None for any other message."""
    if status == "sending" and confirmed_at is None:
        return call_started_at
    return None
