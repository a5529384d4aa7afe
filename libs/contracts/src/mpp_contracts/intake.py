"""Events of intake: an application was submitted at a site, its status changed, or its applicant asked to move or
give back a central appointment."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from mpp_contracts.base import IntegrationEvent

ApplicationChannel = Literal["counter", "online", "kiosk"]
ApplicationStatus = Literal[
    "submitted",  # accepted, not yet decided by routing
    "incomplete",  # accepted by the operator with mandatory requirements missing
    "routed_local",  # routing: handled at the site where it was submitted
    "forwarded",  # routing: handled at the central site, with an appointment
    "refused",  # routing: cannot be handled in this network (reason in the note)
    "expected",  # at the central site: a forwarded application whose applicant is expected on a day
    "checked_in",  # at the central site: the applicant arrived for the appointment
    "in_progress",
    "ready_for_pickup",  # at the site where the product is collected
    "sent_to_origin",  # at the central site: the result went back to the origin site for pickup there
    "completed",
    "cancelled",
    "rejected",
    "no_show",  # the applicant missed the central appointment
    "awaiting_verification",  # online: stored, waiting for the one-time code sent to the phone; nothing routed
]


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
    """An application moved on at `site_id`. At the central site, `origin_site_id` names where it was submitted."""

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
    previous_status: ApplicationStatus | None = None
    origin_site_id: str | None = None
    changed_by: str | None = None  # an operator's name, or "system"


AppointmentChange = Literal["reschedule", "cancel"]


class AppointmentChangeRequested(IntegrationEvent):
    """An operator (or, later, the applicant through tracking) asked to move a central appointment to the next
    free slot on or after `not_before`, or to give it back."""

    type: Literal["appointment.change_requested"] = "appointment.change_requested"
    application_id: UUID
    tracking_code: str
    site_id: str
    change: AppointmentChange
    not_before: date | None = None
    requested_by: str
    reason: str | None = None


# The sealing purpose (mpp_kit.sealing) of `PhoneVerificationRequested.sealed_code`, bound to the application id.
VERIFICATION_CODE_PURPOSE = "verification_code"


class PhoneVerificationRequested(IntegrationEvent):
    """An online application waits for its applicant's phone: notify texts the one-time code. The code travels
    sealed like the phone (purpose VERIFICATION_CODE_PURPOSE, bound to the application id): only notify opens
    it."""

    type: Literal["phone_verification.requested"] = "phone_verification.requested"
    application_id: UUID
    site_id: str
    sealed_phone: str
    sealed_code: str
    valid_minutes: int


# Everything published on `intake.application.v1`, told apart by `type`.
ApplicationEvent = Annotated[
    ApplicationSubmitted | ApplicationStatusChanged | AppointmentChangeRequested | PhoneVerificationRequested,
    Field(discriminator="type"),
]
