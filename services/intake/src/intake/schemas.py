"""The HTTP models of intake: request bodies refuse NUL (ApiModel); responses say what a client gets back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from intake.domain import NIK_PATTERN, TRACKING_CODE_PATTERN, OperatorStatus, validate_nik
from mpp_contracts.intake import ApplicationChannel, ApplicationStatus
from mpp_kit.models import ApiModel
from mpp_kit.phone import InvalidPhoneNumber, normalize_msisdn


def _phone(value: str) -> str:
    try:
        return normalize_msisdn(value)
    except InvalidPhoneNumber as exc:
        raise ValueError(exc.reason) from exc


# The pattern documents the shape; validate_nik checks it (with its own reasons) and the date and codes inside.
Nik = Annotated[str, AfterValidator(validate_nik), Field(json_schema_extra={"pattern": NIK_PATTERN})]
Phone = Annotated[str, Field(min_length=5, max_length=32), AfterValidator(_phone)]
ServiceCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,63}$")]
AgencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]
# A short reason an operator gives; it may be texted to the applicant, so never personal data.
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=60)]
Form = Literal["original", "copy", "digital"]


class Applicant(ApiModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120, description="Full name as on the KTP")
    nik: Nik = Field(
        description="Nomor Induk Kependudukan: 16 ASCII digits 0-9 (spaces ignored): a province code of "
        "Kepmendagri 100.1.1-6117/2022 (11-96, 38 codes), kabupaten/kota and kecamatan codes other than 00, "
        "birth date DDMMYY (day + 40 for women), a serial other than 0000",
        examples=["6402024101900001"],
    )
    phone: Phone = Field(
        description="Indonesian mobile number that receives the SMS: 08..., +628... or 628... (10 to 13 digits "
        "written as 08...); spaces, dashes, dots and parentheses ignored; landlines, toll-free, premium and "
        "short codes refused",
        examples=["0812-3456-0001"],
    )


class DocumentReference(ApiModel):
    """A scanned or uploaded document, stored elsewhere: its id and the SHA-256 of its bytes (never the bytes)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:/-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="lower-case hex SHA-256 of the document")


class ProvidedRequirement(ApiModel):
    """One line of the counter's checklist: a requirement of the service, and in which form it was provided."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    requirement: str = Field(
        min_length=1,
        max_length=200,
        description="The requirement's name, as the catalogue's checklist says it",
    )
    provided: Form | None = Field(default=None, description="How it was provided; null when it was not")
    document: DocumentReference | None = None


class ApplicationRequest(ApiModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    service_code: ServiceCode = Field(description="A service type code of the catalogue")
    channel: ApplicationChannel = "counter"
    applicant: Applicant
    sms_consent: bool = Field(default=True, description="False when the applicant declines SMS notifications")
    checklist: list[ProvidedRequirement] = Field(
        default=[],
        max_length=50,
        description="For each requirement of the service's checklist, whether and how it was provided. A "
        "mandatory requirement not provided is a 422 listing them (field `checklist`), unless "
        "`accept_incomplete`; a name the service does not require is a 422 too",
    )
    accept_incomplete: bool = Field(
        default=False,
        description="At the counter or kiosk: the operator accepts the application with mandatory requirements "
        "missing; its status is then `incomplete` and the missing ones are named in the event's note. Refused "
        "(422) online",
    )


class StatusChange(ApiModel):
    """An operator's change; a rejection needs a note (texted to the applicant), any other status may have one."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        # The rule of `_reason_for_rejection`, in the document: a rejection carries a note.
        json_schema_extra={
            "if": {"properties": {"status": {"const": "rejected"}}, "required": ["status"]},
            "then": {"properties": {"note": {"type": "string"}}, "required": ["note"]},
        },
    )

    status: OperatorStatus = Field(
        description="The new status. Others have their own endpoints: check-in, ready, cancel; `submitted`, "
        "`incomplete` and routing's statuses are never set by hand"
    )
    # Goes into the applicant's SMS when rejected: short, and never personal data.
    note: str | None = Field(
        default=None,
        min_length=3,
        max_length=60,
        validate_default=True,
        description="Why, in a few words texted to the applicant (never personal data); required to reject",
    )

    @field_validator("note")
    @classmethod
    def _reason_for_rejection(cls, note: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("status") == "rejected" and not note:
            raise ValueError("a rejection needs a short note saying why (it is texted to the applicant)")
        return note


class Cancellation(ApiModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why, in a few words (never personal data)")


class RescheduleRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")

    not_before: date | None = Field(default=None, description="The first day the applicant can come")
    reason: Reason | None = None


class ReadyMark(ApiModel):
    model_config = ConfigDict(extra="forbid")

    note: Reason | None = Field(
        default=None, description="For the site where it is collected (never personal data)"
    )


class VerificationCode(ApiModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[0-9]{6}$", description="The six digits texted to the applicant's phone")


class TrackingRequest(ApiModel):
    """Public tracking's question: in the body, so the phone digits stay out of URLs and their logs."""

    model_config = ConfigDict(extra="forbid")

    tracking_code: str = Field(
        pattern=TRACKING_CODE_PATTERN, description="The code of the SMS, e.g. 7F3K-9Q2M (either case)"
    )
    phone_last4: str = Field(pattern=r"^[0-9]{4}$", description="last 4 digits of the applicant's phone")


class Erasure(ApiModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why (the applicant's request, its reference); never personal data")


class AppointmentView(BaseModel):
    site_id: str
    site_name: str
    starts_at: datetime
    bring: list[str] = []


class HistoryEntry(BaseModel):
    status: ApplicationStatus
    previous_status: ApplicationStatus | None
    note: str | None
    changed_by: str = Field(
        description="an operator's name, or `system` for routing's and other sites' events"
    )
    changed_at: datetime


class ApplicationSummary(BaseModel):
    """One line of the queue, the arrivals or a search: no NIK, no phone."""

    application_id: UUID
    tracking_code: str
    queue_ticket: str | None
    status: ApplicationStatus
    service_code: str
    service_name: str
    agency_code: str
    channel: ApplicationChannel
    applicant_name: str
    origin_site_id: str | None
    appointment_starts_at: datetime | None


class ApplicationView(BaseModel):
    """What an operator sees: never the full NIK or phone number."""

    application_id: UUID
    tracking_code: str
    site_id: str
    origin_site_id: str | None = Field(description="where it was submitted, when forwarded to this site")
    service_code: str
    service_name: str
    agency_code: str
    channel: ApplicationChannel
    status: ApplicationStatus
    applicant_name: str = Field(description="the full name; at the handling site the first name only")
    nik_last4: str | None = Field(description="null at the handling site (the NIK never leaves the origin)")
    phone_last4: str
    queue_ticket: str | None
    sms_consent: bool
    appointment: AppointmentView | None
    missing: list[str] = Field(description="mandatory requirements not provided at submit")
    submitted_at: datetime
    updated_at: datetime
    history: list[HistoryEntry]


class ApplicationAccepted(BaseModel):
    application_id: UUID
    tracking_code: str
    queue_ticket: str | None
    site_id: str
    service_code: str
    status: ApplicationStatus
    missing: list[str] = []


class ChangeRequested(BaseModel):
    application_id: UUID
    change: Literal["reschedule", "cancel"]
    status: ApplicationStatus = Field(description="unchanged until routing answers")


class TrackingStep(BaseModel):
    status: ApplicationStatus
    at: datetime
    note: str | None


class ApplicationTracking(BaseModel):
    """What public tracking shows: where the application stands and what comes next, nothing personal."""

    tracking_code: str
    status: ApplicationStatus
    service_code: str
    service_name: str
    site_id: str
    updated_at: datetime
    next_step: str = Field(description="what the applicant does now, in Bahasa Indonesia")
    appointment: AppointmentView | None
    history: list[TrackingStep]
