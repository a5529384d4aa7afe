"""Kafka and PostgreSQL as testcontainers, for machines with a Docker engine.

testcontainers' own `KafkaContainer` drives Confluent's images (its start script calls /etc/confluent/...) and
reads any tag as a Confluent Platform version, so `apache/kafka:4.x` with `.with_kraft()` fails before it starts.
`ApacheKafkaContainer` runs the Apache image in KRaft mode (broker and controller in one node) as it is meant to
be configured, through its `KAFKA_*` environment. Clients reach it on the host's mapped port, which is known only
once the container exists: the container waits for a start script that sets the advertised listener, the same
way testcontainers handles Confluent's image.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from typing import Any

from testcontainers.community.postgres import PostgresContainer
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

KAFKA_IMAGE = "apache/kafka:4.1.1"
POSTGRES_IMAGE = "postgres:17"

CLIENT_PORT = 9092  # what the tests and services use, advertised as host:mapped port
_BROKER_PORT = 9093  # inside the container only
_CONTROLLER_PORT = 9094
_START_SCRIPT = "/mpp-kafka-start.sh"


class ApacheKafkaContainer(DockerContainer):
    def __init__(
        self, image: str = KAFKA_IMAGE, *, partitions: int = 3, docker_client_kw: dict[str, Any] | None = None
    ) -> None:
        super().__init__(image, docker_client_kw=docker_client_kw)
        self.with_exposed_ports(CLIENT_PORT)
        settings = {
            "CLUSTER_ID": "bXBwLWRldnN0YWNrLWt",
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@localhost:{_CONTROLLER_PORT}",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENERS": (
                f"PLAINTEXT://0.0.0.0:{CLIENT_PORT},BROKER://0.0.0.0:{_BROKER_PORT},"
                f"CONTROLLER://0.0.0.0:{_CONTROLLER_PORT}"
            ),
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
            "KAFKA_NUM_PARTITIONS": str(partitions),
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "3",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        }
        for name, value in settings.items():
            self.with_env(name, value)
        # The image's entrypoint runs this command; it waits for the script written once the port is known.
        self.with_command(
            f'sh -c "while [ ! -f {_START_SCRIPT} ]; do sleep 0.1; done; exec sh {_START_SCRIPT}"'
        )

    def get_bootstrap_server(self) -> str:
        return f"{self.get_container_host_ip()}:{self.get_exposed_port(CLIENT_PORT)}"

    def start_script(self) -> str:
        advertised = f"PLAINTEXT://{self.get_bootstrap_server()},BROKER://localhost:{_BROKER_PORT}"
        return f"export KAFKA_ADVERTISED_LISTENERS={advertised}\nexec /etc/kafka/docker/run\n"

    def start(self, timeout: float = 120) -> ApacheKafkaContainer:
        super().start()
        script = self.start_script().encode()
        with io.BytesIO() as archive:
            with tarfile.open(fileobj=archive, mode="w") as tar:
                info = tarfile.TarInfo(_START_SCRIPT.lstrip("/"))
                info.size, info.mtime, info.mode = len(script), int(time.time()), 0o755
                tar.addfile(info, io.BytesIO(script))
            self.get_wrapped_container().put_archive("/", archive.getvalue())
        LogMessageWaitStrategy(re.compile(r"Kafka Server started")).with_startup_timeout(
            int(timeout)
        ).wait_until_ready(self)
        return self


def postgres_container(
    image: str = POSTGRES_IMAGE, *, docker_client_kw: dict[str, Any] | None = None
) -> PostgresContainer:
    """PostgreSQL as the local process runs it: room for every service's pool, no fsync (a throwaway server)."""
    container = PostgresContainer(image, driver=None, docker_client_kw=docker_client_kw)
    container.with_command("postgres -c fsync=off -c max_connections=300 -c shared_buffers=64MB")
    return container
