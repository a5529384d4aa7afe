"""Standar pelayanan: the validated shape of a service catalogue.

The models follow the six "service delivery" components of UU 25/2009 Pasal 21 / PermenPANRB 15/2014
(requirements, procedure, completion time, fee, product, complaint handling) plus what routing needs
(channel, central-only reason, per-site availability, agency schedules and daily quotas).

Nothing here knows about a particular kabupaten: the data set is loaded by ``catalog.seed`` from a directory.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mpp_contracts.catalog import WEEKDAYS, CentralOnlyReason, Channel, SiteKind, Weekday
from mpp_kit.models import NUL_REASON, has_nul

# --- identifiers ------------------------------------------------------------------------------------------

AGENCY_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{1,19}$")
# Service codes are the agency code plus at least one more segment: DUKCAPIL-AKTA-LAHIR.
SERVICE_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{1,19}(-[A-Z0-9]+)+$")
# Slugs become Kubernetes object names and Kafka topic parts (site.<slug>.inbox.v1), so RFC 1123 labels,
# capped at 40 so that prefixes such as "mpp-intake-" still fit in 63 characters.
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
# Kemendagri wilayah code: province, kabupaten, kecamatan, desa (64.02.06.1001).
KEMENDAGRI_RE = re.compile(r"^\d{2}(?:\.\d{2}(?:\.\d{2}(?:\.\d{4})?)?)?$")
# "HH:MM"; a ":00" seconds part is accepted so JSON written by older serialisers (08:00:00) reads back.
HHMM_RE = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d(?::00)?$")
SERVICE_CODE_MAX = 48


def _check(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what} (must match {pattern.pattern})")
        return value

    return AfterValidator(check)


def _service_code(value: str) -> str:
    if len(value) > SERVICE_CODE_MAX:
        raise ValueError(f"service code {value!r} is longer than {SERVICE_CODE_MAX} characters")
    return value


def _hhmm(value: object) -> dt.time:
    # YAML 1.1 reads an unquoted 12:00 as the sexagesimal integer 720, so insist on quoted "HH:MM" strings.
    if isinstance(value, dt.time):
        return value
    if not isinstance(value, str) or not HHMM_RE.fullmatch(value):
        raise ValueError(f'expected a quoted 24-hour time like "08:00", got {value!r}')
    hours, minutes = value.split(":")[:2]
    return dt.time(int(hours), int(minutes))


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate entry {value!r}")
        seen.add(value)
    return values


def _unique_days(values: list[dt.date]) -> list[dt.date]:
    if len(set(values)) != len(values):
        raise ValueError("a day is listed twice")
    return sorted(values)


def _documented(pattern: re.Pattern[str], **more: int) -> Any:
    # The rule checked by _check, shown in the JSON schema (OpenAPI) too.
    return Field(json_schema_extra={"pattern": pattern.pattern, **more})


AgencyCode = Annotated[str, _check(AGENCY_CODE_RE, "agency code"), _documented(AGENCY_CODE_RE)]
ServiceCode = Annotated[
    str,
    _check(SERVICE_CODE_RE, "service code"),
    AfterValidator(_service_code),
    _documented(SERVICE_CODE_RE, maxLength=SERVICE_CODE_MAX),
]
Slug = Annotated[str, _check(SLUG_RE, "DNS-safe slug"), _documented(SLUG_RE)]
KemendagriCode = Annotated[str, _check(KEMENDAGRI_RE, "Kemendagri wilayah code"), _documented(KEMENDAGRI_RE)]
HHMM = Annotated[
    dt.time,
    BeforeValidator(_hhmm),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str, when_used="json"),
]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
ShortText = Annotated[str, Field(min_length=1, max_length=160)]

RequirementForm = Literal["original", "copy", "digital"]
ClockStart = Literal["site", "central"]
# Where the product of a forwarded (central-only) service is handed over: back at the origin site, or only at the
# central site that handled it.
CollectedAt = Literal["origin", "handling"]
Category = Literal["perizinan", "non_perizinan"]
DataClass = Literal["umum", "spesifik"]
"""Personal-data class of what the applicant hands over (UU 27/2022 PDP Pasal 4)."""
AgencyKind = Literal["opd", "vertical", "court", "bumn", "bumd", "bank", "kecamatan"]
ComplaintKind = Literal["desk", "phone", "whatsapp", "sms", "email", "web", "app", "lapor"]


class Strict(BaseModel):
    """Base of every catalogue record, read from the data set or sent to the admin API."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    # After validation, so a NUL inside a nested record is reported at its own path (requirements[0].name);
    # the nested record refuses it first. PostgreSQL cannot store the character.
    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError(NUL_REASON)
        return value


# --- agencies ---------------------------------------------------------------------------------------------


class OnlineChannel(Strict):
    """An agency's own online channel (M-Paspor, OSS, SIAK/IKD, ...): we link out to it, never replace it."""

    name: ShortText
    url: Annotated[str, Field(pattern=r"^https://\S+$")] | None = None


class ComplaintChannel(Strict):
    kind: ComplaintKind
    value: ShortText


class Agency(Strict):
    code: AgencyCode
    name: ShortText
    short_name: ShortText
    kind: AgencyKind
    parent: ShortText | None = None
    aliases: list[ShortText] = Field(default_factory=list)
    website: Annotated[str, Field(pattern=r"^https://\S+$")] | None = None
    online: list[OnlineChannel] = Field(default_factory=list)


# --- service types (standar pelayanan) ---------------------------------------------------------------------


class Requirement(Strict):
    name: Text
    form: RequirementForm
    quantity: Annotated[int, Field(ge=1, le=20)] = 1
    optional: bool = False
    note: Text | None = None


class Fee(Strict):
    """What the applicant pays the agency, in whole rupiah.

    ``free`` if and only if nothing is payable. ``variable`` marks tariffs computed at assessment (taxes,
    PNBP by area or value): then ``amount`` is the fixed part known in advance and may be 0.
    """

    # Strict: in Indonesian "30.000" is thirty thousand, which lax parsing would read as 30.
    amount: Annotated[int, Field(ge=0, le=10_000_000_000, strict=True)]
    free: bool = False
    variable: bool = False
    legal_basis: Text
    note: Text | None = None

    @model_validator(mode="after")
    def _free_means_zero(self) -> Fee:
        if self.free and (self.amount != 0 or self.variable):
            raise ValueError("free: true requires amount 0 and variable: false")
        if not self.free and self.amount == 0 and not self.variable:
            raise ValueError("amount 0 requires free: true (or variable: true for tariffs set at assessment)")
        return self


class Completion(Strict):
    """Jangka waktu penyelesaian. 0 working days means finished the same day."""

    completion_days: Annotated[int, Field(ge=0, le=365)]
    clock_starts: ClockStart
    note: Text | None = None


class Availability(Strict):
    """Overrides the default (local/assisted: every site; central_only: central sites).

    ``sites: []`` means offered nowhere in this network (the applicant goes to the agency's own office).
    """

    kinds: list[SiteKind] | None = None
    sites: Annotated[list[Slug], AfterValidator(_unique)] | None = None
    exclude_sites: Annotated[list[Slug], AfterValidator(_unique)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_selector(self) -> Availability:
        if self.kinds is not None and self.sites is not None:
            raise ValueError("give either kinds or sites, not both")
        return self


class ServiceType(Strict):
    code: ServiceCode
    agency_code: AgencyCode
    name: ShortText
    category: Category
    aliases: list[ShortText] = Field(default_factory=list)
    keywords: list[ShortText] = Field(default_factory=list)
    description: Text | None = None
    channel: Channel
    central_only_reason: Annotated[CentralOnlyReason | None, Field(validate_default=True)] = None
    online: OnlineChannel | None = None
    requirements: Annotated[list[Requirement], Field(min_length=1)]
    procedure: Annotated[list[Text], Field(min_length=1)]
    completion: Completion
    fee: Fee
    product: ShortText
    complaint: Annotated[list[ComplaintChannel], Field(min_length=1)]
    legal_basis: list[Text] = Field(default_factory=list)
    data_class: DataClass = "umum"
    availability: Availability | None = None
    collected_at: CollectedAt = "origin"
    version: Annotated[int, Field(ge=1)] = 1
    effective_date: dt.date

    # Field validators (not a model validator) so that errors carry the field's path for API clients.
    # Fields validate in declaration order, so code and channel are in info.data when valid.

    @field_validator("agency_code")
    @classmethod
    def _agency_prefixes_code(cls, agency_code: str, info: ValidationInfo) -> str:
        code = info.data.get("code")
        if isinstance(code, str) and not code.startswith(agency_code + "-"):
            raise ValueError(f"service code {code!r} must start with its agency code {agency_code + '-'!r}")
        return agency_code

    @field_validator("central_only_reason")
    @classmethod
    def _reason_iff_central_only(
        cls, reason: CentralOnlyReason | None, info: ValidationInfo
    ) -> CentralOnlyReason | None:
        channel = info.data.get("channel")
        if channel == "central_only" and reason is None:
            raise ValueError("central_only services need a central_only_reason")
        if channel is not None and channel != "central_only" and reason is not None:
            raise ValueError(f"central_only_reason is only allowed with channel central_only, not {channel}")
        return reason

    @field_validator("completion")
    @classmethod
    def _central_clock(cls, completion: Completion, info: ValidationInfo) -> Completion:
        if info.data.get("channel") == "central_only" and completion.clock_starts != "central":
            raise ValueError("central_only services start their clock at central (clock_starts: central)")
        return completion


# --- sites and schedules -----------------------------------------------------------------------------------


class TimeRange(Strict):
    opens: HHMM
    closes: HHMM

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.opens >= self.closes:
            raise ValueError(f"opens {self.opens:%H:%M} must be before closes {self.closes:%H:%M}")
        return self

    def covers(self, other: TimeRange) -> bool:
        return self.opens <= other.opens and other.closes <= self.closes

    @property
    def minutes(self) -> int:
        return (self.closes.hour * 60 + self.closes.minute) - (self.opens.hour * 60 + self.opens.minute)


class OpeningHours(Strict):
    """Service hours per weekday; a missing day is closed."""

    mon: TimeRange | None = None
    tue: TimeRange | None = None
    wed: TimeRange | None = None
    thu: TimeRange | None = None
    fri: TimeRange | None = None
    sat: TimeRange | None = None
    sun: TimeRange | None = None

    def on(self, day: Weekday) -> TimeRange | None:
        value: TimeRange | None = getattr(self, day)
        return value

    @model_validator(mode="after")
    def _some_day_open(self) -> OpeningHours:
        if all(self.on(day) is None for day in WEEKDAYS):
            raise ValueError("a site must open on at least one weekday")
        return self


class Site(Strict):
    slug: Slug
    kind: SiteKind
    name: ShortText
    # How an SMS names the site when the full name would not fit one segment (e.g. "MPP Kukar Tenggarong").
    short_name: Annotated[str, Field(min_length=3, max_length=30)] | None = None
    kemendagri_code: KemendagriCode
    address: ShortText
    timezone: TimeZoneName
    opening_hours: OpeningHours
    aliases: list[ShortText] = Field(default_factory=list)
    note: Text | None = None
    # Days the site is closed besides public holidays and cuti bersama (a local event, a move...).
    closed_on: Annotated[list[dt.date], AfterValidator(_unique_days)] = Field(default_factory=list)
    # Days an applicant from here needs before a central appointment (travel): 0 allows the same day, after
    # the current hour; 2 means not before the day after tomorrow.
    central_lead_days: Annotated[int, Field(ge=0, le=14)] = 1

    @model_validator(mode="after")
    def _kecamatan_level(self) -> Site:
        if self.kemendagri_code.count(".") < 2:
            raise ValueError(f"kemendagri_code {self.kemendagri_code!r} must be at least kecamatan level")
        return self


class AgencySchedule(Strict):
    """When an agency staffs its counter at a site, and how many applicants it takes a day.

    ``counters`` desks work in parallel, so a day offers (hours / slot_minutes) x counters slots, which must
    cover the daily quota. ``services`` narrows the schedule to some of the agency's services.
    """

    agency_code: AgencyCode
    site: Slug
    days: Annotated[list[Weekday], Field(min_length=1), AfterValidator(_unique)]
    opens: HHMM
    closes: HHMM
    daily_quota: Annotated[int, Field(ge=1, le=10_000)]
    slot_minutes: Annotated[int, Field(ge=5, le=240)]
    counters: Annotated[int, Field(ge=1, le=50)] = 1
    services: Annotated[list[ServiceCode], AfterValidator(_unique)] | None = None
    # Days the agency does not serve at this site besides public holidays and cuti bersama.
    closed_on: Annotated[list[dt.date], AfterValidator(_unique_days)] = Field(default_factory=list)
    note: Text | None = None

    @property
    def hours(self) -> TimeRange:
        return TimeRange(opens=self.opens, closes=self.closes)

    @model_validator(mode="after")
    def _capacity(self) -> AgencySchedule:
        if self.opens >= self.closes:
            raise ValueError(f"opens {self.opens:%H:%M} must be before closes {self.closes:%H:%M}")
        slots = self.hours.minutes // self.slot_minutes * self.counters
        if slots < self.daily_quota:
            raise ValueError(
                f"daily_quota {self.daily_quota} exceeds the {slots} slots of {self.slot_minutes} minutes"
                f" x {self.counters} counter(s) between {self.opens:%H:%M} and {self.closes:%H:%M}"
            )
        return self


# --- the catalogue -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """A cross-reference problem: ``collection[index].field`` (e.g. services[12].agency_code)."""

    collection: str
    index: int
    key: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.collection}[{self.index}] ({self.key}): {self.field}: {self.message}"


def _duplicates(collection: str, keys: Iterable[str], field: str) -> list[Issue]:
    first: dict[str, int] = {}
    issues: list[Issue] = []
    for index, key in enumerate(keys):
        if key in first:
            issues.append(Issue(collection, index, key, field, f"duplicate of {collection}[{first[key]}]"))
        else:
            first[key] = index
    return issues


def cross_check(
    agencies: list[Agency], services: list[ServiceType], sites: list[Site], schedules: list[AgencySchedule]
) -> list[Issue]:
    """Everything that needs more than one record: uniqueness and references."""
    issues = [
        *_duplicates("agencies", (a.code for a in agencies), "code"),
        *_duplicates("services", (s.code for s in services), "code"),
        *_duplicates("sites", (s.slug for s in sites), "slug"),
    ]
    agency_codes = {a.code for a in agencies}
    site_by_slug = {s.slug: s for s in sites}
    service_by_code = {s.code: s for s in services}
    if not any(s.kind == "central" for s in sites):
        issues.append(
            Issue("sites", 0, "-", "kind", "no central site: central_only services cannot be served")
        )

    for i, service in enumerate(services):
        if service.agency_code not in agency_codes:
            issues.append(
                Issue("services", i, service.code, "agency_code", f"unknown agency {service.agency_code!r}")
            )
        avail = service.availability
        if avail is None:
            continue
        for field, slugs in (
            ("availability.sites", avail.sites or []),
            ("availability.exclude_sites", avail.exclude_sites),
        ):
            for slug in slugs:
                site = site_by_slug.get(slug)
                if site is None:
                    issues.append(Issue("services", i, service.code, field, f"unknown site {slug!r}"))
                elif (
                    field == "availability.sites"
                    and service.channel == "central_only"
                    and site.kind != "central"
                ):
                    issues.append(
                        Issue(
                            "services",
                            i,
                            service.code,
                            field,
                            f"central_only service offered at {site.kind} site {slug!r}",
                        )
                    )
        if service.channel == "central_only" and avail.kinds is not None and "mini" in avail.kinds:
            issues.append(
                Issue(
                    "services",
                    i,
                    service.code,
                    "availability.kinds",
                    "central_only service offered at mini sites",
                )
            )

    for i, sched in enumerate(schedules):
        key = f"{sched.agency_code}@{sched.site}"
        if sched.agency_code not in agency_codes:
            issues.append(Issue("schedules", i, key, "agency_code", f"unknown agency {sched.agency_code!r}"))
        site = site_by_slug.get(sched.site)
        if site is None:
            issues.append(Issue("schedules", i, key, "site", f"unknown site {sched.site!r}"))
        else:
            for day in sched.days:
                hours = site.opening_hours.on(day)
                if hours is None:
                    issues.append(
                        Issue("schedules", i, key, "days", f"site {site.slug!r} is closed on {day}")
                    )
                elif not hours.covers(sched.hours):
                    issues.append(
                        Issue(
                            "schedules",
                            i,
                            key,
                            "closes",
                            f"{sched.opens:%H:%M}-{sched.closes:%H:%M} on {day} is outside the site's hours"
                            f" {hours.opens:%H:%M}-{hours.closes:%H:%M}",
                        )
                    )
        for code in sched.services or []:
            svc = service_by_code.get(code)
            if svc is None:
                issues.append(Issue("schedules", i, key, "services", f"unknown service {code!r}"))
            elif svc.agency_code != sched.agency_code:
                issues.append(
                    Issue("schedules", i, key, "services", f"{code!r} belongs to agency {svc.agency_code!r}")
                )
    return issues


class Catalogue(Strict):
    agencies: list[Agency]
    services: list[ServiceType]
    sites: list[Site]
    schedules: list[AgencySchedule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Catalogue:
        issues = cross_check(self.agencies, self.services, self.sites, self.schedules)
        if issues:
            raise ValueError("; ".join(str(issue) for issue in issues))
        return self

    # Lookups. The model is frozen, so building the maps on demand is cheap enough for a catalogue of
    # hundreds of entries; callers that look up in a hot loop keep their own dicts.

    def site(self, slug: str) -> Site:
        for site in self.sites:
            if site.slug == slug:
                return site
        raise KeyError(slug)

    def offered_at(self, service: ServiceType, site: Site) -> bool:
        avail = service.availability
        if avail is not None and site.slug in avail.exclude_sites:
            return False
        if avail is not None and avail.sites is not None:
            return site.slug in avail.sites
        if avail is not None and avail.kinds is not None:
            return site.kind in avail.kinds
        return service.channel != "central_only" or site.kind == "central"

    def services_at(self, site_slug: str) -> list[ServiceType]:
        """The service types an applicant can start at this site (raises KeyError for an unknown site)."""
        site = self.site(site_slug)
        return [service for service in self.services if self.offered_at(service, site)]

    def sites_offering(self, service: ServiceType) -> list[Site]:
        return [site for site in self.sites if self.offered_at(service, site)]

    def schedules_for(
        self, agency_code: str | None = None, site_slug: str | None = None, service_code: str | None = None
    ) -> list[AgencySchedule]:
        """Schedules matching every filter given (a schedule without ``services`` covers all its agency's)."""
        return [
            s
            for s in self.schedules
            if (agency_code is None or s.agency_code == agency_code)
            and (site_slug is None or s.site == site_slug)
            and (service_code is None or s.services is None or service_code in s.services)
        ]
