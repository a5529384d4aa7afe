"""A broker, a database server and a platform of their own, for a test module that must not share them: one that
kills them (fault tests) or one that changes whatever its API allows (the fuzzer). Two platforms on one broker
would share topics and consumer groups and take each other's events."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mpp_devstack.kafka import LocalKafka
from mpp_devstack.platform import Platform
from mpp_devstack.postgres import LocalPostgres


@dataclass
class OwnStack:
    kafka: LocalKafka
    postgres: LocalPostgres
    platform: Platform


@contextlib.contextmanager
def own_stack(secrets: dict[str, str], sites: tuple[str, ...], prefix: str) -> Iterator[OwnStack]:
    """Started on free local ports; stopped and removed at the end (kept with MPP_KEEP_STACK_LOGS=1)."""
    # Outside pytest's temp root: another pytest session resets that root, which would cut the unprivileged
    # PostgreSQL user off from its data directory.
    workdir = Path(tempfile.mkdtemp(prefix=f"mpp-{prefix}-"))
    kafka = LocalKafka(workdir / "kafka")
    postgres = LocalPostgres(workdir / "postgres")
    platform: Platform | None = None
    try:
        kafka.start()
        postgres.start()
        platform = Platform(
            workdir / "platform",
            kafka.bootstrap_servers,
            postgres.dsn(),
            sites=sites,
            db_prefix=f"{prefix}{uuid.uuid4().hex[:6]}",
        )
        platform.start(secrets)
        yield OwnStack(kafka, postgres, platform)
    finally:
        if platform is not None:
            platform.stop()
        kafka.stop()
        postgres.stop()
        if os.environ.get("MPP_KEEP_STACK_LOGS") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
