from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from mpp_kit.settings import ServiceSettings

DATA = Path(__file__).parent / "data"


class RoutingSettings(ServiceSettings):
    service_name: str = "routing"
    # The site that handles central-only services (the central MPP).
    central_site_id: str = "mpp-tenggarong"
    # Appointments: the earliest is the origin site's travel lead (`central_lead_days` in the catalogue, 1 when the
    # catalogue gives none) but never less than this floor, which raises every site's lead at once (0: the sites
    # decide); the latest is this many days after the request.
    booking_lead_days: int = Field(default=0, ge=0, le=30)
    booking_horizon_days: int = Field(default=30, ge=1, le=366)
    # Cuti bersama per year (YAML, see data/cuti_bersama.yaml): replaced by pointing here, without a release.
    cuti_bersama_file: Path = DATA / "cuti_bersama.yaml"
    # No-shows: how often the sweep runs, and how long after an agency's day ends it waits for a late check-in.
    no_show_interval_s: float = Field(default=300.0, gt=0)
    no_show_grace_minutes: int = Field(default=60, ge=0)
    # How often /metrics' free central places of the coming week are read from the tables.
    free_slots_refresh_s: float = Field(default=60.0, gt=0)
    # Bearer token of the ops read API (appointments per slot, decisions per day). Empty: the API answers 401.
    routing_ops_token: SecretStr = SecretStr("")
