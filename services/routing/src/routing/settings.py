from __future__ import annotations

from mpp_kit.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    service_name: str = "routing"
    # The site that handles central-only services (the central MPP).
    central_site_id: str = "mpp-tenggarong"
