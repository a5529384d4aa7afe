"""The testcontainers definitions are built without a Docker engine (none on CI runners without one): the
images, the KRaft settings and the advertised listener are checked here; starting them is the infra fixture's job
where Docker answers."""

from __future__ import annotations

from mpp_devstack.containers import CLIENT_PORT, ApacheKafkaContainer, postgres_container

NO_ENGINE = {"version": "1.44"}  # an explicit API version: docker-py does not ask the (absent) engine for one


def test_kafka_container_is_the_apache_image_in_kraft_mode() -> None:
    kafka = ApacheKafkaContainer(docker_client_kw=NO_ENGINE)
    assert kafka.image == "apache/kafka:4.1.1"
    assert kafka.env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka.env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@localhost:9094"
    assert kafka.env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "BROKER"
    assert kafka.env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "true"
    assert str(CLIENT_PORT) in kafka.ports
    assert "mpp-kafka-start.sh" in str(kafka._command)


def test_kafka_advertises_the_hosts_mapped_port(monkeypatch) -> None:
    kafka = ApacheKafkaContainer(docker_client_kw=NO_ENGINE)
    monkeypatch.setattr(kafka, "get_container_host_ip", lambda: "127.0.0.1")
    monkeypatch.setattr(kafka, "get_exposed_port", lambda port: 32781 if port == CLIENT_PORT else None)
    script = kafka.start_script()
    assert "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:32781,BROKER://localhost:9093" in script
    assert script.rstrip().endswith("exec /etc/kafka/docker/run")


def test_postgres_container_has_room_for_every_service() -> None:
    db = postgres_container(docker_client_kw=NO_ENGINE)
    assert db.image == "postgres:17"
    assert "max_connections=300" in str(db._command)
    assert db.port == 5432
