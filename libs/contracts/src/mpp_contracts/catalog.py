"""Events of the catalog service: the full current state of a service type or a site, keyed by its code.

Published to compacted topics; a tombstone (a null value) under the same key retires it.
"""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mpp_contracts.base import IntegrationEvent

Channel = Literal["local", "assisted", "central_only"]
"""local: finished at any site; assisted: the site checks and hands over to the agency's own channel and gives
back the result; central_only: the applicant must attend the central site."""
CentralOnlyReason = Literal["biometrics", "secure_printing", "physical_inspection", "court", "originals"]
SiteKind = Literal["central", "mini"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RequirementItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    form: Literal["original", "copy", "digital"]
    optional: bool = False


class ServiceAvailability(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    code: str
    name: str
    agency_code: str
    channel: Channel
    central_only_reason: str | None = None
    completion_days: int
    requirements: tuple[str, ...] = ()
    originals: tuple[str, ...] = ()  # documents the applicant must bring in original (what to bring)
    # Each requirement of the standar pelayanan, for the counter's checklist. Absent in older events.
    checklist: tuple[RequirementItem, ...] = ()
    # Where the product of a central-only service is collected: back at the origin site (the usual case) or at
    # the handling site.
    collected_at: Literal["origin", "handling"] = "origin"
    sites: tuple[str, ...] = ()  # slugs of the sites offering it; central-only services list the central site
    version: int = 1


class ServiceTypeChanged(IntegrationEvent):
    """Full state of a service type after a change (create, update)."""

    service: ServiceAvailability


class Hours(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    opens: time
    closes: time


class AgencyHours(BaseModel):
    """When an agency serves at a site and how many applicants a day (its schedule and daily quota)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    agency_code: str
    days: tuple[Weekday, ...]
    opens: time
    closes: time
    daily_quota: int
    slot_minutes: int
    counters: int = 1
    services: tuple[str, ...] | None = None  # None: every service of the agency
    closed_on: tuple[date, ...] = ()  # days the agency does not serve at this site besides public holidays

    def covers(self, service_code: str) -> bool:
        return self.services is None or service_code in self.services


class SiteState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    slug: str
    name: str
    short_name: str = ""  # for SMS text; empty when the name is short enough
    kind: SiteKind
    kemendagri_code: str
    address: str = ""
    timezone: str = "Asia/Makassar"
    opening_hours: dict[Weekday, Hours] = {}
    schedules: tuple[AgencyHours, ...] = ()
    version: int = 1
    # Days the site is closed besides public holidays (a local event...).
    closed_on: tuple[date, ...] = ()
    # How many days before a central appointment an applicant of this site needs to travel there: 0 allows a
    # slot the same day (after the current hour), 2 means not before the day after tomorrow. Absent: 1.
    central_lead_days: int = 1

    @property
    def sms_name(self) -> str:
        """How an SMS names the site."""
        return self.short_name or self.name


class SiteChanged(IntegrationEvent):
    site: SiteState
