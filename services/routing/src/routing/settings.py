from __future__ import annotations

from mpp_kit.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    service_name: str = "routing"
    # The site that handles central-only services (the central MPP).
    central_site_id: str = "mpp-tenggarong"
    # Appointments: the earliest is this many days after submission (time to travel), the latest this many.
    booking_lead_days: int = 1
    booking_horizon_days: int = 30
