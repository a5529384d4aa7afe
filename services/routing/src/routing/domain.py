"""Routing's rules, without I/O: where an application is handled (at its own site, at the central MPP, or nowhere),
when a central appointment can be, what happens to it when it is moved, given back or missed, and what routing tells
the platform (and, in a sentence of Bahasa Indonesia, the applicant) about it.

Calendar: nobody is served on a public holiday, a cuti bersama day, a day the site is closed or a day the agency
does not serve at the site (`closed_on` in the catalogue). Bookings and expected completion dates skip them all.

Booking: a day takes at most its quota; each slot (one `slot_minutes` step of the window) seats `counters`
applicants. A booking takes the first slot with a free seat that starts no earlier than the applicant can be there:
the origin site's travel lead (`central_lead_days`: 0 is the same day after the current hour, N is N days later).
When the agency has no schedule at the site, the site's opening hours stand in, with 30-minute slots at one desk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from mpp_contracts.catalog import WEEKDAYS, AgencyHours, ServiceAvailability, SiteState
from mpp_contracts.intake import (
    ApplicationEvent,
    ApplicationStatus,
    ApplicationStatusChanged,
    ApplicationSubmitted,
    PhoneVerificationRequested,
)
from mpp_contracts.routing import (
    ApplicationForwarded,
    ApplicationRouted,
    Appointment,
    AppointmentCancelled,
    AppointmentMissed,
    AppointmentRescheduled,
    DecisionReason,
    Outcome,
    RefusalReason,
)

FALLBACK_SLOT_MINUTES = 30
# Statuses at the handling site that mean the applicant came (the appointment was kept).
ARRIVED: frozenset[ApplicationStatus] = frozenset(
    {"checked_in", "in_progress", "ready_for_pickup", "sent_to_origin", "completed", "rejected"}
)


def concerns_routing(event: ApplicationEvent) -> bool:
    """Whether one of intake's events asks anything of routing: a submit, a change request, a cancellation or an
    arrival. The others (a code sent, most status changes) are skipped without a transaction."""
    if isinstance(event, PhoneVerificationRequested):
        return False
    if isinstance(event, ApplicationStatusChanged):
        return event.status == "cancelled" or event.status in ARRIVED
    return True


# ------------------------------------------------------------------ calendar


@dataclass(frozen=True)
class DaysOff:
    """Days no site serves: public holidays and cuti bersama, each with its name."""

    public: Mapping[date, str]
    joint: Mapping[date, str]

    def name_of(self, day: date) -> str | None:
        return self.joint.get(day) or self.public.get(day)


NO_DAYS_OFF = DaysOff({}, {})


def site_open(site: SiteState | None, day: date, days_off: DaysOff) -> bool:
    """Whether the site serves anyone on `day` (Monday to Friday when its hours are unknown)."""
    open_days = set(site.opening_hours) if site and site.opening_hours else set(WEEKDAYS[:5])
    if WEEKDAYS[day.weekday()] not in open_days or days_off.name_of(day) is not None:
        return False
    return site is None or day not in site.closed_on


def add_working_days(start: date, days: int, site: SiteState | None, days_off: DaysOff) -> date:
    """`days` working days after `start`, a working day being one the site serves."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if site_open(site, current, days_off):
            left -= 1
    return current


# ------------------------------------------------------------------ decisions


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

    @property
    def reason(self) -> DecisionReason:
        if self.refusal_reason is not None:
            return self.refusal_reason
        return "offered_here" if self.outcome == "local" else "central_only"


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
    retry_from: date,
) -> Decision:
    """A central decision with its appointment; refused as `quota_full` when no day within the horizon had a
    place (`starts` is None), naming the full site and the first day the applicant may try again."""
    if starts is None:
        return Decision(
            "refused", None, refusal_reason="quota_full", full_site_name=site.sms_name, retry_from=retry_from
        )
    appointment = Appointment(
        site_id=site.slug, site_name=site.sms_name, starts_at=starts, bring=service.originals
    )
    return replace(decision, appointment=appointment)


CENTRAL_ONLY_WHY = {
    "biometrics": "memerlukan perekaman foto dan sidik jari",
    "secure_printing": "dicetak dengan pengamanan khusus",
    "physical_inspection": "memerlukan pemeriksaan fisik",
    "court": "ditangani oleh pengadilan",
    "originals": "memerlukan pemeriksaan dokumen asli",
}


def reason_text(reason: DecisionReason, central_only_reason: str | None = None) -> str:
    """One short sentence in Bahasa Indonesia telling the applicant why (no digits, so any SMS may carry it)."""
    if reason == "central_only":
        why = CENTRAL_ONLY_WHY.get(central_only_reason or "")
        if why:
            return f"Layanan ini {why}, sehingga Anda perlu datang ke MPP pusat."
        return "Layanan ini hanya tersedia di MPP pusat, sehingga Anda perlu datang ke sana."
    return REASON_TEXTS[reason]


REASON_TEXTS: dict[DecisionReason, str] = {
    "offered_here": "Layanan ini diproses di tempat Anda mengajukan permohonan.",
    "central_only": "Layanan ini hanya tersedia di MPP pusat.",
    "unknown_service": "Layanan yang Anda pilih tidak lagi terdaftar di katalog layanan.",
    "not_offered": "Layanan ini tidak tersedia di jaringan MPP; silakan ajukan ke kantor instansinya.",
    "quota_full": "Kuota layanan di MPP pusat sudah penuh untuk jangka waktu pemesanan.",
    "rescheduled": "Jadwal kedatangan Anda sudah dipindahkan sesuai permintaan.",
    "no_slot_to_reschedule": "Belum ada jadwal kosong untuk pemindahan, jadwal lama Anda tetap berlaku.",
    "cancelled": "Jadwal kedatangan Anda sudah dibatalkan.",
    "no_show": "Anda tidak hadir pada jadwal kedatangan; silakan minta jadwal baru bila masih perlu.",
}


# ------------------------------------------------------------------ central appointments


@dataclass(frozen=True)
class Window:
    """When an agency serves at a site on one day, and how many applicants."""

    opens: time
    closes: time
    quota: int
    slot_minutes: int
    counters: int

    @property
    def slots(self) -> int:
        minutes = (self.closes.hour * 60 + self.closes.minute) - (self.opens.hour * 60 + self.opens.minute)
        return minutes // self.slot_minutes


def schedule_for(site: SiteState, agency_code: str, service_code: str) -> AgencyHours | None:
    for hours in site.schedules:
        if hours.agency_code == agency_code and hours.covers(service_code):
            return hours
    return None


def schedule_for_agency(site: SiteState, agency_code: str) -> AgencyHours | None:
    """The agency's schedule at the site for all its services (else its first one): what ops look at."""
    schedules = [hours for hours in site.schedules if hours.agency_code == agency_code]
    return next((hours for hours in schedules if hours.services is None), schedules[0] if schedules else None)


def window_on(site: SiteState, schedule: AgencyHours | None, day: date, days_off: DaysOff) -> Window | None:
    """The agency's window at the site on `day`; None when it does not serve then (closed, holiday...)."""
    weekday = WEEKDAYS[day.weekday()]
    if days_off.name_of(day) is not None or day in site.closed_on:
        return None
    if schedule is not None:
        if weekday not in schedule.days or day in schedule.closed_on:
            return None
        return Window(
            schedule.opens, schedule.closes, schedule.daily_quota, schedule.slot_minutes, schedule.counters
        )
    hours = site.opening_hours.get(weekday)
    if hours is None:
        return None
    minutes = (hours.closes.hour * 60 + hours.closes.minute) - (hours.opens.hour * 60 + hours.opens.minute)
    return Window(hours.opens, hours.closes, minutes // FALLBACK_SLOT_MINUTES, FALLBACK_SLOT_MINUTES, 1)


@dataclass(frozen=True)
class Reach:
    """The earliest moment an applicant can be at the handling site, and the last day routing books."""

    earliest: datetime
    last_day: date

    @property
    def first_day(self) -> date:
        return self.earliest.date()

    @property
    def retry_from(self) -> date:
        return self.last_day + timedelta(days=1)


def reach(
    now: datetime,
    today: date,
    lead_days: int,
    horizon_days: int,
    timezone: str,
    not_before: date | None = None,
) -> Reach:
    """From `today` (the day of the request) and `now`: with a lead of 0, the next full hour today; with a lead
    of N, the start of the N-th day after; never before `not_before`. The horizon counts from `today`."""
    tz = ZoneInfo(timezone)
    local_now = now.astimezone(tz)
    today = max(today, local_now.date())
    next_hour = local_now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    earliest = max(datetime.combine(today + timedelta(days=lead_days), time(0), tz), next_hour)
    if not_before is not None:
        earliest = max(earliest, datetime.combine(not_before, time(0), tz))
    return Reach(earliest, today + timedelta(days=horizon_days))


def bookable_days(
    site: SiteState, agency_code: str, service_code: str, within: Reach, days_off: DaysOff
) -> Iterator[tuple[date, Window]]:
    """The days from the earliest to the last one of `within` on which the agency serves at the site, in order,
    each with its window."""
    schedule = schedule_for(site, agency_code, service_code)
    day = within.first_day
    while day <= within.last_day:
        window = window_on(site, schedule, day, days_off)
        if window is not None and window.quota > 0:
            yield day, window
        day += timedelta(days=1)


def zone(site: SiteState) -> ZoneInfo:
    return ZoneInfo(site.timezone)


def slot_start(site: SiteState, day: date, window: Window, slot: int) -> datetime:
    return datetime.combine(day, window.opens, ZoneInfo(site.timezone)) + timedelta(
        minutes=slot * window.slot_minutes
    )


def free_slot(
    site: SiteState,
    day: date,
    window: Window,
    booked: int,
    seats_taken: Mapping[int, int],
    earliest: datetime,
    keep_off: int | None = None,
) -> int | None:
    """The first slot of the day with a free seat that starts at or after `earliest` (and is not `keep_off`, the
    slot being moved away from); None when the day's quota is reached or no such slot is left."""
    if booked >= window.quota:
        return None
    for slot in range(window.slots):
        if slot == keep_off or seats_taken.get(slot, 0) >= window.counters:
            continue
        if slot_start(site, day, window, slot) >= earliest:
            return slot
    return None


def day_ends(site: SiteState, day: date, window: Window) -> datetime:
    """When the agency's day at the site ends: an appointment not kept by then is missed."""
    return datetime.combine(day, window.closes, ZoneInfo(site.timezone))


# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class HeldAppointment:
    """A central appointment as routing holds it: the seat (day, slot) and what the applicant was told."""

    application_id: UUID
    site_id: str
    agency_code: str
    day: date
    slot: int
    starts_at: datetime
    status: Literal["booked", "cancelled", "missed"]
    site_name: str
    bring: tuple[str, ...]

    @property
    def appointment(self) -> Appointment:
        return Appointment(
            site_id=self.site_id, site_name=self.site_name, starts_at=self.starts_at, bring=self.bring
        )


@dataclass(frozen=True)
class Applicant:
    """What routing keeps of a routed application for the events that follow it (changes, no-shows)."""

    application_id: UUID
    tracking_code: str
    origin_site_id: str
    origin_site_name: str
    handling_site_id: str
    service_code: str
    service_name: str
    applicant_first_name: str
    sealed_phone: str
    sms_consent: bool


def routed(
    event: ApplicationSubmitted,
    decision: Decision,
    service: ServiceAvailability | None,
    origin_site: SiteState | None,
    days_off: DaysOff,
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
            add_working_days(event.submitted_on, service.completion_days, origin_site, days_off)
            if service and decision.outcome == "local"
            else None
        ),
        appointment=decision.appointment,
        full_site_name=decision.full_site_name,
        retry_from=decision.retry_from,
        applicant_first_name=event.applicant_first_name,
        sealed_phone=event.sealed_phone,
        sms_consent=event.sms_consent,
        reason=decision.reason,
        reason_text=reason_text(decision.reason, decision.central_only_reason),
    )


def forwarded(
    event: ApplicationSubmitted, decision: Decision, routed_event: ApplicationRouted
) -> ApplicationForwarded | None:
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
        origin_site_name=routed_event.origin_site_name,
        service_name=routed_event.service_name,
        applicant_first_name=event.applicant_first_name,
        sealed_phone=event.sealed_phone,
        sms_consent=event.sms_consent,
    )


def _about(applicant: Applicant, reason: DecisionReason) -> dict[str, object]:
    return {
        "application_id": applicant.application_id,
        "tracking_code": applicant.tracking_code,
        "origin_site_id": applicant.origin_site_id,
        "origin_site_name": applicant.origin_site_name,
        "handling_site_id": applicant.handling_site_id,
        "service_code": applicant.service_code,
        "service_name": applicant.service_name,
        "applicant_first_name": applicant.applicant_first_name,
        "sealed_phone": applicant.sealed_phone,
        "sms_consent": applicant.sms_consent,
        "reason": reason,
        "reason_text": reason_text(reason),
    }


def rescheduled(
    applicant: Applicant, previous: Appointment, appointment: Appointment | None, retry_from: date | None
) -> AppointmentRescheduled:
    """Moved, or (no appointment) not moved for want of a free slot: the previous one stands."""
    if appointment is None:
        return AppointmentRescheduled.model_validate(
            {**_about(applicant, "no_slot_to_reschedule"), "previous": previous, "retry_from": retry_from}
        )
    return AppointmentRescheduled.model_validate(
        {**_about(applicant, "rescheduled"), "previous": previous, "appointment": appointment}
    )


def cancelled(applicant: Applicant, previous: Appointment) -> AppointmentCancelled:
    return AppointmentCancelled.model_validate({**_about(applicant, "cancelled"), "previous": previous})


def missed(applicant: Applicant, appointment: Appointment) -> AppointmentMissed:
    return AppointmentMissed.model_validate({**_about(applicant, "no_show"), "appointment": appointment})


# ------------------------------------------------------------------ capacity (what ops watch)


def agencies_served_at(site: SiteState, services: Iterable[ServiceAvailability]) -> set[str]:
    """The agencies routing may book at the site: those with a schedule there and those of the services the site
    offers (an agency without a schedule is booked in the site's opening hours)."""
    return {hours.agency_code for hours in site.schedules} | {
        service.agency_code for service in services if site.slug in service.sites
    }


def free_seats(
    site: SiteState, agency_code: str, days: Iterable[date], booked: Mapping[date, int], days_off: DaysOff
) -> int:
    """Places left in the agency's daily quotas at the site over `days`, `booked` holding the seats taken per day
    (the agency's schedule for all its services, as the ops read shows it)."""
    schedule = schedule_for_agency(site, agency_code)
    windows = ((day, window_on(site, schedule, day, days_off)) for day in days)
    return sum(max(window.quota - booked.get(day, 0), 0) for day, window in windows if window is not None)
