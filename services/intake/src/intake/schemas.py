"""The HTTP models of intake: request bodies refuse NUL (ApiModel); responses say what a client gets back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
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

from intake.domain import NIK_PATTERN, OperatorStatus, validate_nik
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


class Applicant(ApiModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120, description="Full name as on the KTP")
    nik: Nik = Field(
        description="Nomor Induk Kependudukan: 16 ASCII digits 0-9 (spaces ignored): province code 11-96, "
        "regency, district, birth date DDMMYY (day + 40 for women), a serial other than 0000",
        examples=["6402024101900001"],
    )
    phone: Phone = Field(
        description="Indonesian mobile number that receives the SMS: 08..., +628... or 628... (10 to 13 digits "
        "written as 08...); spaces, dashes, dots and parentheses ignored; landlines, toll-free, premium and "
        "short codes refused",
        examples=["0812-3456-0001"],
    )


class ApplicationRequest(ApiModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    service_code: ServiceCode = Field(description="A service type code of the catalogue")
    channel: ApplicationChannel = "counter"
    applicant: Applicant
    sms_consent: bool = Field(default=True, description="False when the applicant declines SMS notifications")


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

    status: OperatorStatus = Field(description="The new status (never `submitted`, which only a submit sets)")
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


class ApplicationView(BaseModel):
    """What an operator sees: never the full NIK or phone number."""

    application_id: UUID
    tracking_code: str
    site_id: str
    service_code: str
    service_name: str
    channel: ApplicationChannel
    status: ApplicationStatus
    applicant_name: str
    nik_last4: str
    phone_last4: str
    queue_ticket: str | None
    sms_consent: bool
    submitted_at: datetime
    updated_at: datetime


class ApplicationAccepted(BaseModel):
    application_id: UUID
    tracking_code: str
    queue_ticket: str | None
    site_id: str
    service_code: str
    status: ApplicationStatus


class ApplicationTracking(BaseModel):
    """What public tracking shows: where the application stands, nothing personal."""

    tracking_code: str
    status: ApplicationStatus
    service_code: str
    site_id: str
    updated_at: datetime
