"""Events of routing: where an application is handled and, when forwarded, the booked appointment."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from mpp_contracts.base import IntegrationEvent

Outcome = Literal["local", "central", "refused"]
RefusalReason = Literal["unknown_service", "not_offered", "quota_full"]


class Appointment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    site_id: str
    site_name: str
    starts_at: datetime
    bring: tuple[str, ...] = ()


class ApplicationRouted(IntegrationEvent):
    """Routing decided where the application is handled."""

    type: Literal["application.routed"] = "application.routed"
    application_id: UUID
    tracking_code: str
    origin_site_id: str
    origin_site_name: str
    service_code: str
    service_name: str
    outcome: Outcome
    handling_site_id: str | None = None
    refusal_reason: RefusalReason | None = None
    central_only_reason: str | None = None
    expected_completion: date | None = None
    appointment: Appointment | None = None
    # When refused for a full quota: the site that was full, and the first day past the booking horizon.
    full_site_name: str | None = None
    retry_from: date | None = None
    applicant_first_name: str
    sealed_phone: str
    # Carried over from the application: False when the applicant declined SMS. Absent in older events: True.
    sms_consent: bool = True


class ApplicationForwarded(IntegrationEvent):
    """A case sent to another site's inbox (central-only services go to the central MPP)."""

    type: Literal["application.forwarded"] = "application.forwarded"
    application_id: UUID
    tracking_code: str
    origin_site_id: str
    handling_site_id: str
    service_code: str
    central_only_reason: str | None = None
    appointment: Appointment | None = None
