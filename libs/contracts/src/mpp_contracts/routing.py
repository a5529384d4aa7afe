"""Events of routing: where an application is handled and, when forwarded, the booked appointment and what
happens to it (moved, given back, missed); and what travels between sites' inboxes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from mpp_contracts.base import IntegrationEvent

Outcome = Literal["local", "central", "refused"]
RefusalReason = Literal["unknown_service", "not_offered", "quota_full"]
# Machine-readable reason of a decision; `reason_text` says it to the applicant in Bahasa Indonesia.
DecisionReason = Literal[
    "offered_here",
    "central_only",
    "unknown_service",
    "not_offered",
    "quota_full",
    "rescheduled",
    "no_slot_to_reschedule",
    "cancelled",
    "no_show",
]


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
    reason: DecisionReason | None = None
    reason_text: str | None = None


class AppointmentEvent(IntegrationEvent):
    """What every event about an existing central appointment carries (on the decision topic and the handling
    site's inbox)."""

    application_id: UUID
    tracking_code: str
    origin_site_id: str
    origin_site_name: str = ""
    handling_site_id: str
    service_code: str
    service_name: str = ""
    applicant_first_name: str = ""
    sealed_phone: str = ""
    sms_consent: bool = True
    reason: DecisionReason
    reason_text: str = ""


class AppointmentRescheduled(AppointmentEvent):
    """The appointment moved: the old slot was freed in the same transaction. `appointment` is None when no slot
    was free within the booking horizon (the old one is kept then: `previous` stays valid)."""

    type: Literal["appointment.rescheduled"] = "appointment.rescheduled"
    previous: Appointment
    appointment: Appointment | None = None
    retry_from: date | None = None


class AppointmentCancelled(AppointmentEvent):
    """The appointment was given back; its slot is free again."""

    type: Literal["appointment.cancelled"] = "appointment.cancelled"
    previous: Appointment


class AppointmentMissed(AppointmentEvent):
    """The agency's day ended without the applicant checking in: a no-show. The slot is not given back."""

    type: Literal["appointment.missed"] = "appointment.missed"
    appointment: Appointment


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
    # What the handling site shows and texts; absent in older events.
    origin_site_name: str = ""
    service_name: str = ""
    applicant_first_name: str = ""
    sealed_phone: str = ""
    sms_consent: bool = True


class ResultReturned(IntegrationEvent):
    """The handling site finished a forwarded application whose product is collected at the origin: sent to the
    origin site's inbox, where it becomes "ready for pickup here"."""

    type: Literal["result.returned"] = "result.returned"
    application_id: UUID
    tracking_code: str
    origin_site_id: str
    handling_site_id: str
    handling_site_name: str = ""
    service_code: str
    note: str | None = None


# Everything published on `routing.decision.v1`, told apart by `type`.
DecisionEvent = Annotated[
    ApplicationRouted | AppointmentRescheduled | AppointmentCancelled | AppointmentMissed,
    Field(discriminator="type"),
]
# Everything published on a site's inbox `site.<site>.inbox.v1`, told apart by `type`.
InboxEvent = Annotated[
    ApplicationForwarded | AppointmentRescheduled | AppointmentCancelled | AppointmentMissed | ResultReturned,
    Field(discriminator="type"),
]
