"""The HTTP models of intake."""

from __future__ import annotations

from datetime import datetime
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

from intake.domain import validate_nik
from mpp_kit.phone import InvalidPhoneNumber, normalize_msisdn


def _phone(value: str) -> str:
    try:
        return normalize_msisdn(value)
    except InvalidPhoneNumber as exc:
        raise ValueError(exc.reason) from exc


Nik = Annotated[str, AfterValidator(validate_nik)]
Phone = Annotated[str, Field(min_length=5, max_length=32), AfterValidator(_phone)]
ServiceCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,63}$")]


class Applicant(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120, description="Full name as on the KTP")
    nik: Nik = Field(description="Nomor Induk Kependudukan: 16 digits")
    phone: Phone = Field(description="Indonesian mobile number that receives the SMS")


class ApplicationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    service_code: ServiceCode
    channel: Literal["counter", "online", "kiosk"] = "counter"
    applicant: Applicant
    sms_consent: bool = Field(default=True, description="False when the applicant declines SMS notifications")


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["in_progress", "ready_for_pickup", "completed", "rejected"]
    # Goes into the applicant's SMS when rejected: short, and never personal data.
    note: str | None = Field(default=None, min_length=3, max_length=60, validate_default=True)

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
    channel: str
    status: str
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
    status: str
