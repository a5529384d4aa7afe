"""What the catalog's routes need, built once by `create_app` and kept as `app.state.context`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg

from catalog.settings import CatalogSettings
from catalog.snapshot import Snapshot
from mpp_kit.runtime import ServiceRuntime

Role = Literal["admin", "ops"]
"""admin: may change the catalogue; ops: may read only (refused on the admin routes)."""


@dataclass(frozen=True)
class CatalogContext:
    settings: CatalogSettings
    runtime: ServiceRuntime
    snapshot: Snapshot

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool

    def roles(self) -> dict[str, Role]:
        """Each configured bearer token and the role it carries (an unset token is accepted by nobody)."""
        return {
            self.settings.catalog_admin_token.get_secret_value(): "admin",
            self.settings.catalog_ops_token.get_secret_value(): "ops",
        }
