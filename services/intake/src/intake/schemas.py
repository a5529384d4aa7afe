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

from intake.domain import (
    NIK_PATTERN,
    SUGGESTION_MAX_CHARS,
    TRACKING_CODE_PATTERN,
    OperatorStatus,
    QualityBand,
    SurveyState,
    validate_nik,
)
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
        "Kepmendagri 100.1.1-6117/2022 (11-96, 38 codes), a kabupaten/kota code of that province (Kepmendagri "
        "lists since 2016), a kecamatan code other than 00, "
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


class VerificationResent(BaseModel):
    """A new code is on its way by SMS; the one sent before no longer works."""

    application_id: UUID
    status: ApplicationStatus = Field(description="still awaiting_verification")
    valid_minutes: int = Field(description="how long the new code is valid")
    resends_left: int = Field(description="how many more times a new code may be asked for")
    next_resend_after_s: int = Field(description="seconds before another code may be asked for")


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
    survey: SurveyState | None = Field(
        default=None,
        description="The satisfaction survey (SKM): `open` once the application is completed and not yet "
        "answered (`POST /applications/track/survey`), `done` once answered, null before completion",
    )


# ---- the satisfaction survey (SKM, PermenPANRB 14/2017) --------------------------------------------------------


def _none_if_blank(text: str | None) -> str | None:
    return text or None


# One element's answer: 1 tidak sesuai, 2 kurang sesuai, 3 sesuai, 4 sangat sesuai. Strict: a JSON integer only.
Score = Annotated[int, Field(ge=1, le=4, strict=True)]


class SurveyAnswers(ApiModel):
    """The nine elements (unsur) of PermenPANRB 14/2017, each scored 1 (tidak sesuai) to 4 (sangat sesuai)."""

    model_config = ConfigDict(extra="forbid")

    requirements: Score = Field(description="U1 Persyaratan")
    procedure: Score = Field(description="U2 Sistem, Mekanisme, dan Prosedur")
    completion_time: Score = Field(description="U3 Waktu Penyelesaian")
    cost: Score = Field(description="U4 Biaya/Tarif")
    product: Score = Field(description="U5 Produk Spesifikasi Jenis Pelayanan")
    competence: Score = Field(description="U6 Kompetensi Pelaksana")
    conduct: Score = Field(description="U7 Perilaku Pelaksana")
    complaints: Score = Field(description="U8 Penanganan Pengaduan, Saran dan Masukan")
    facilities: Score = Field(description="U9 Sarana dan Prasarana")


class SurveySubmission(TrackingRequest):
    """The applicant's answers, proven theirs like tracking: the tracking code and the phone's last four digits
    (in the body, never the URL)."""

    model_config = ConfigDict(extra="forbid")

    answers: SurveyAnswers
    suggestion: Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, max_length=SUGGESTION_MAX_CHARS),
        AfterValidator(_none_if_blank),
    ] = Field(
        default=None,
        description=f"Saran: free text of up to {SUGGESTION_MAX_CHARS} characters, optional; an empty one is "
        "kept as none. Ask for no personal data in it",
    )


class SurveyRecorded(BaseModel):
    tracking_code: str
    survey: SurveyState = Field(description="`done`: the answers are recorded")
    answered_at: datetime


class ElementScore(BaseModel):
    element: str = Field(description="U1 to U9, the regulation's numbering")
    key: str = Field(description="the element's field in the answers")
    name: str = Field(description="the element's name in the regulation")
    nrr: float | None = Field(
        description="nilai rata-rata: the average score (1.00-4.00); null without responses"
    )


class SurveySummary(BaseModel):
    """The site's index of public satisfaction (IKM) over the responses answered on the days asked."""

    site_id: str
    first_day: date = Field(description="the first day counted (the site's own day)")
    last_day: date = Field(description="the last day counted (the site's own day)")
    responses: int
    elements: list[ElementScore]
    ikm: float | None = Field(
        description="(sum of NRR x 1/9) x 25, 25.00-100.00 rounded to two decimals; null without responses"
    )
    band: QualityBand | None = Field(
        description="mutu pelayanan: A 88.31-100, B 76.61-88.30, C 65.00-76.60, D 25.00-64.99"
    )
    quality: str | None = Field(description="the band's name: Sangat Baik, Baik, Kurang Baik, Tidak Baik")


class SurveyPeriod(ApiModel):
    """The days a survey summary counts; any other query parameter is refused (a misspelt `form=` must not
    silently give the default period)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(
        default=None,
        alias="from",
        description="The first day counted (YYYY-MM-DD, the site's day); the first day of the current half-year "
        "by default",
    )
    to: date | None = Field(
        default=None, description="The last day counted (YYYY-MM-DD); today where the site is by default"
    )
