"""Notify's rules, pure (no I/O, no SQL): the status machine of a message, when a message no provider took is
tried again, and what a `sending` message's provider-call markers say.

Their users: ``messages.py`` (status changes), ``dispatch.py`` (retries, unconfirmed messages), ``api.py``
(the ops view). The SQL that applies them is in ``repository.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mpp_contracts.notify import SmsStatus

__all__ = ["DECLINED", "FINAL", "ORDER", "RetryPolicy", "unconfirmed_since"]

# created -> sending -> sent -> delivered, or one of the failures. A final state is never overwritten.
FINAL: tuple[SmsStatus, ...] = ("delivered", "permanent_failure", "temporary_failure", "technical_failure")
# Statuses only move forward along this order (a late "sending" report cannot undo "sent").
ORDER: tuple[SmsStatus, ...] = ("created", "sending", "sent", *FINAL)
# Stored when the applicant declined SMS: final, not in ORDER (so a status change never moves it), not published.
DECLINED = "declined"


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
