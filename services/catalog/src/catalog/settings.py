from __future__ import annotations

from pathlib import Path

from mpp_kit.settings import ServiceSettings

from catalog.seed import DEFAULT_DATA_DIR


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    # The data set loaded at start (another kabupaten is another directory, not other code).
    catalogue_data_dir: Path = DEFAULT_DATA_DIR
