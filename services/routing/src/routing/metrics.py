"""What routing tells ops through /metrics (besides the kit's): decisions by outcome, and the central places left
for the coming week per agency, refreshed from its tables every FREE_SLOTS_REFRESH_S.

- `routing_decisions_total{outcome,reason}`: counted when a decision is written, inside its inbox transaction
  (a transaction rolled back and retried counts its decision again: a rate, not a ledger; the ledger is
  `GET /decisions/summary`).
- `routing_free_slots_next_7_days{site_id,agency_code}`: places left in the agency's daily quotas at the central
  site from today to six days later (the site's own calendar day), for every agency routing may book there. 0
  for a week means applicants are refused with `quota_full`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from prometheus_client import Counter, Gauge

from routing import domain, repository
from routing.context import RoutingContext

log = logging.getLogger(__name__)

DAYS_AHEAD = 7

DECISIONS = Counter(
    "routing_decisions_total", "Routing decisions written, by outcome and reason", ["outcome", "reason"]
)
FREE_SLOTS = Gauge(
    "routing_free_slots_next_7_days",
    "Places left in an agency's daily quotas at the central site over today and the next six days",
    ["site_id", "agency_code"],
)


async def refresh_free_slots(ctx: RoutingContext) -> None:
    site = ctx.sites.get(ctx.settings.central_site_id)
    if site is None:
        return  # the catalogue copy does not know the central site (yet): nothing to say
    today = ctx.clock().astimezone(domain.zone(site)).date()
    days = [today + timedelta(days=n) for n in range(DAYS_AHEAD)]
    agencies = domain.agencies_served_at(site, ctx.services.items.values())
    async with ctx.database().acquire() as conn:
        held = await repository.seats_held_per_day(conn, site.slug, days[0], days[-1])
    free = {code: domain.free_seats(site, code, days, held.get(code, {}), ctx.days_off) for code in agencies}
    FREE_SLOTS.clear()  # an agency no longer served there drops out (no await from here: scraped whole)
    for code, places in free.items():
        FREE_SLOTS.labels(site.slug, code).set(places)
