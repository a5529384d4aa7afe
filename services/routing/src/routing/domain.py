"""Where an application is handled: at its own site, at the central MPP, or nowhere (refused)."""

from __future__ import annotations

from dataclasses import dataclass

from mpp_contracts.catalog import ServiceAvailability
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
