from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from catalog.seed import DEFAULT_DATA_DIR
from mpp_kit.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    # The data set that seeds an empty catalogue (another kabupaten is another directory, not other code).
    catalogue_data_dir: Path = DEFAULT_DATA_DIR
    # Bearer tokens: the admin may change the catalogue; the ops token may only read. Secrets.
    catalog_admin_token: SecretStr = SecretStr("")
    catalog_ops_token: SecretStr = SecretStr("")
    # How often the search snapshot picks up changes made through another replica.
    snapshot_refresh_s: float = 30.0
