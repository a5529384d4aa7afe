"""Events of intake: an application was submitted at a site, or its status changed."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from mpp_contracts.base import IntegrationEvent

ApplicationChannel = Literal["counter", "online", "kiosk"]
ApplicationStatus = Literal["submitted", "in_progress", "ready_for_pickup", "completed", "rejected"]


class ApplicationSubmitted(IntegrationEvent):
    """A site accepted an application. Never carries the NIK; the phone number travels sealed (see kit.sealing)."""

    type: Literal["application.submitted"] = "application.submitted"
    application_id: UUID
    tracking_code: str
    site_id: str
    service_code: str
    channel: ApplicationChannel
    applicant_first_name: str
    sealed_phone: str
    submitted_on: date
    # False when the applicant declined SMS: notify then sends nothing. Absent in older events: True.
    sms_consent: bool = True


class ApplicationStatusChanged(IntegrationEvent):
    type: Literal["application.status_changed"] = "application.status_changed"
    application_id: UUID
    tracking_code: str
    site_id: str
    service_code: str
    status: ApplicationStatus
    service_name: str = ""
    site_name: str = ""
    applicant_first_name: str
    sealed_phone: str
    note: str | None = None
    sms_consent: bool = True


# Everything published on `intake.application.v1`, told apart by `type`.
ApplicationEvent = Annotated[ApplicationSubmitted | ApplicationStatusChanged, Field(discriminator="type")]
