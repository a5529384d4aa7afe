"""Routing's rules, without I/O: where an application is handled (at its own site, at the central MPP, or nowhere),
when a central appointment can be, and what routing tells the platform about it.

Booking: a day's n-th booking (1-based, counted per site, agency and day) takes slot (n - 1) // counters:
`counters` desks serve in parallel, one applicant per `slot_minutes`. When the agency has no schedule at the site,
the site's opening hours stand in, with 30-minute slots at one desk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mpp_contracts.catalog import WEEKDAYS, AgencyHours, ServiceAvailability, SiteState
from mpp_contracts.intake import ApplicationSubmitted
from mpp_contracts.routing import (
    ApplicationForwarded,
    ApplicationRouted,
    Appointment,
    Outcome,
    RefusalReason,
)

FALLBACK_SLOT_MINUTES = 30


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    handling_site_id: str | None
    refusal_reason: RefusalReason | None = None
    central_only_reason: str | None = None
    appointment: Appointment | None = None
    # Refused for a full quota: the site that was full (its SMS name) and the first day past the booking horizon.
    full_site_name: str | None = None
    retry_from: date | None = None


def decide(service: ServiceAvailability | None, origin_site_id: str, central_site_id: str) -> Decision:
    if service is None:
        return Decision("refused", None, refusal_reason="unknown_service")
    if service.channel == "central_only":
        if central_site_id not in service.sites:
            return Decision("refused", None, refusal_reason="not_offered")
        return Decision("central", central_site_id, central_only_reason=service.central_only_reason)
    if origin_site_id in service.sites:
        return Decision("local", origin_site_id)
    if central_site_id in service.sites:
        return Decision("central", central_site_id)
    return Decision("refused", None, refusal_reason="not_offered")


def booked(
    decision: Decision,
    site: SiteState,
    service: ServiceAvailability,
    starts: datetime | None,
    submitted_on: date,
    horizon_days: int,
) -> Decision:
    """A central decision with its appointment; refused as `quota_full` when no day within the horizon had a
    place (`starts` is None), naming the full site and the first day the applicant may try again."""
    if starts is None:
        return Decision(
            "refused",
            None,
            refusal_reason="quota_full",
            full_site_name=site.sms_name,
            retry_from=submitted_on + timedelta(days=horizon_days + 1),
        )
    appointment = Appointment(
        site_id=site.slug, site_name=site.sms_name, starts_at=starts, bring=service.originals
    )
    return replace(decision, appointment=appointment)


def add_working_days(start: date, days: int, site: SiteState | None) -> date:
    """`days` working days after `start`, a working day being one the site opens (Monday to Friday when its
    hours are unknown). Public holidays are not known yet: the date may come a day or two early around them."""
    open_days = set(site.opening_hours) if site and site.opening_hours else set(WEEKDAYS[:5])
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if WEEKDAYS[current.weekday()] in open_days:
            left -= 1
    return current


# ------------------------------------------------------------------ central appointments


@dataclass(frozen=True)
class Window:
    """When an agency serves at a site on one day, and how many applicants."""

    opens: time
    closes: time
    quota: int
    slot_minutes: int
    counters: int


def schedule_for(site: SiteState, agency_code: str, service_code: str) -> AgencyHours | None:
    for hours in site.schedules:
        if hours.agency_code == agency_code and hours.covers(service_code):
            return hours
    return None


def window_on(site: SiteState, schedule: AgencyHours | None, day: date) -> Window | None:
    weekday = WEEKDAYS[day.weekday()]
    if schedule is not None:
        if weekday not in schedule.days:
            return None
        return Window(
            schedule.opens, schedule.closes, schedule.daily_quota, schedule.slot_minutes, schedule.counters
        )
    hours = site.opening_hours.get(weekday)
    if hours is None:
        return None
    minutes = (hours.closes.hour * 60 + hours.closes.minute) - (hours.opens.hour * 60 + hours.opens.minute)
    return Window(hours.opens, hours.closes, minutes // FALLBACK_SLOT_MINUTES, FALLBACK_SLOT_MINUTES, 1)


def bookable_days(
    site: SiteState, agency_code: str, service_code: str, today: date, lead_days: int, horizon_days: int
) -> Iterator[tuple[date, Window]]:
    """The days from `today + lead_days` to `today + horizon_days` on which the agency serves at the site, in
    order, each with its window."""
    schedule = schedule_for(site, agency_code, service_code)
    for offset in range(lead_days, horizon_days + 1):
        day = today + timedelta(days=offset)
        window = window_on(site, schedule, day)
        if window is not None and window.quota > 0:
            yield day, window


def slot_of(site: SiteState, day: date, window: Window, nth: int) -> tuple[int, datetime]:
    """The slot the day's `nth` booking (1-based) takes, and when it starts in the site's time zone."""
    slot = (nth - 1) // window.counters
    starts = datetime.combine(day, window.opens, ZoneInfo(site.timezone)) + timedelta(
        minutes=slot * window.slot_minutes
    )
    return slot, starts


# ------------------------------------------------------------------ events


def routed(
    event: ApplicationSubmitted,
    decision: Decision,
    service: ServiceAvailability | None,
    origin_site: SiteState | None,
) -> ApplicationRouted:
    """What routing publishes for every application (notify texts the applicant from it)."""
    return ApplicationRouted(
        application_id=event.application_id,
        tracking_code=event.tracking_code,
        origin_site_id=event.site_id,
        origin_site_name=origin_site.name if origin_site else event.site_id,
        service_code=event.service_code,
        service_name=service.name if service else event.service_code,
        outcome=decision.outcome,
        handling_site_id=decision.handling_site_id,
        refusal_reason=decision.refusal_reason,
        central_only_reason=decision.central_only_reason,
        expected_completion=(
            add_working_days(event.submitted_on, service.completion_days, origin_site)
            if service and decision.outcome == "local"
            else None
        ),
        appointment=decision.appointment,
        full_site_name=decision.full_site_name,
        retry_from=decision.retry_from,
        applicant_first_name=event.applicant_first_name,
        sealed_phone=event.sealed_phone,
        sms_consent=event.sms_consent,
    )


def forwarded(event: ApplicationSubmitted, decision: Decision) -> ApplicationForwarded | None:
    """The case for the handling site's inbox when it is handled centrally; None otherwise."""
    if decision.outcome != "central" or not decision.handling_site_id:
        return None
    return ApplicationForwarded(
        application_id=event.application_id,
        tracking_code=event.tracking_code,
        origin_site_id=event.site_id,
        handling_site_id=decision.handling_site_id,
        service_code=event.service_code,
        central_only_reason=decision.central_only_reason,
        appointment=decision.appointment,
    )
