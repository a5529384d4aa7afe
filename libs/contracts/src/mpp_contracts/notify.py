"""Events of notify: what happened to an SMS. No phone number and no body: these are for everyone."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from mpp_contracts.base import IntegrationEvent

SmsStatus = Literal[
    "created",
    "sending",
    "sent",
    "delivered",
    "permanent_failure",
    "temporary_failure",
    "technical_failure",
    "capped",  # final: the phone number had its daily number of SMS already; recorded, not sent
]


class SmsStatusChanged(IntegrationEvent):
    type: Literal["sms.status_changed"] = "sms.status_changed"
    message_id: UUID
    application_id: UUID | None
    template: str
    status: SmsStatus
    provider: str | None = None
    segments: int
