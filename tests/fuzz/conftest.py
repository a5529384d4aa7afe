"""A platform of its own for the fuzzer: it creates, changes and retires whatever the documents allow, so it must
not share catalog, intake or notify state with the end-to-end tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpp_devstack.infra import Infra
from mpp_devstack.platform import Platform


@pytest.fixture(scope="module")
def fuzz_platform(
    infra: Infra, tmp_path_factory: pytest.TempPathFactory, platform_secrets: dict[str, str]
) -> Iterator[Platform]:
    running = Platform(
        Path(tmp_path_factory.mktemp("fuzz-platform")),
        infra.kafka_bootstrap,
        infra.pg_admin_dsn,
        sites=("loa-kulu",),  # one intake is enough: every site runs the same code
        db_prefix=f"fz{uuid.uuid4().hex[:6]}",
    )
    try:
        running.start(platform_secrets)
        yield running
    finally:
        running.stop()
