"""The HTTP models of intake."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

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


class ApplicationAccepted(BaseModel):
    application_id: UUID
    tracking_code: str
    queue_ticket: str | None
    site_id: str
    service_code: str
    status: str
