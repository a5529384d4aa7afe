"""Where an application is handled: at its own site, at the central MPP, or nowhere (refused)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from mpp_contracts.catalog import ServiceAvailability, SiteState
from mpp_contracts.routing import Outcome, RefusalReason


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    handling_site_id: str | None
    refusal_reason: RefusalReason | None = None
    central_only_reason: str | None = None


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


WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def add_working_days(start: date, days: int, site: SiteState | None) -> date:
    """`days` working days after `start`, a working day being one the site opens (Monday to Friday when its
    hours are unknown). Public holidays are not known yet: the date may come a day or two early around them."""
    open_days = set(site.opening_hours) if site and site.opening_hours else set(WEEKDAY_KEYS[:5])
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if WEEKDAY_KEYS[current.weekday()] in open_days:
            left -= 1
    return current
