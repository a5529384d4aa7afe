"""Every Kafka client of the kit connects through `mpp_kit.kafka_security`: a broker that only speaks SASL_SSL
with SCRAM (users added at format time, a certificate from a private CA) serves a whole ServiceRuntime round
trip: topics created, the outbox relay publishes, an inbox consumer reads, a read model loads, a poison message
reaches the DLQ (whose record quotes no value) and `mpp-dlq` lists it. A wrong password or a client without TLS
is refused. Slow: its own broker (~30 s)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from mpp_contracts.base import IntegrationEvent
from mpp_contracts.topics import Topic
from mpp_devstack.kafka import BrokerSecurity, LocalKafka
from mpp_kit import dlq
from mpp_kit.consumer import dead_letter_error
from mpp_kit.kafka_security import KafkaConnection, kafka_connection
from mpp_kit.outbox import enqueue
from mpp_kit.runtime import ServiceRuntime
from mpp_kit.settings import ServiceSettings

pytestmark = pytest.mark.slow

USER, PASSWORD = "intake", secrets.token_hex(12)


class CounterOpened(IntegrationEvent):
    counter: str
    agency_code: str


@pytest.fixture(scope="module")
def secured_broker() -> Iterator[LocalKafka]:
    workdir = Path(tempfile.mkdtemp(prefix="mpp-test-sasl-"))
    broker = LocalKafka(workdir, security=BrokerSecurity(users={USER: PASSWORD}))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """ServiceRuntime installs the JSON log handler on the root logger; give pytest its handlers back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def secured_settings(broker: LocalKafka, database: str, **overrides: str) -> ServiceSettings:
    assert broker.security is not None
    values = {
        "service_name": "sasl-test",
        "kafka_bootstrap_servers": broker.bootstrap_servers,
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-256",
        "kafka_sasl_username": USER,
        "kafka_sasl_password": PASSWORD,
        "kafka_ssl_cafile": str(broker.security.ca_file),
        "database_url": database,
        "outbox_poll_interval_s": "0.2",
        "consumer_max_attempts": "1",
        **overrides,
    }
    return ServiceSettings.model_validate(values)


async def test_a_service_runtime_round_trip_over_sasl_ssl(
    secured_broker: LocalKafka, database: str, eventually
) -> None:
    suffix = uuid.uuid4().hex[:8]
    events, counters = Topic(f"sasl.events.{suffix}.v1"), Topic(f"sasl.counters.{suffix}.v1", compacted=True)
    runtime = ServiceRuntime(
        secured_settings(secured_broker, database), migrations=None, topics=[events, counters]
    )
    handled: list[str] = []

    async def on_counter_opened(conn: asyncpg.Connection, event: CounterOpened) -> None:
        if event.counter == "poison":
            raise ValueError(f"counter refused for 0812-3456-0001 and {event.counter}")
        handled.append(event.counter)

    runtime.consume(events, CounterOpened, name="sasl-test")(on_counter_opened)
    copy = runtime.read_model(counters, CounterOpened, lambda e: e.agency_code)
    await runtime.start()
    try:
        async with runtime.pool.acquire() as conn, conn.transaction():
            for name in ("A", "poison", "B"):
                await enqueue(conn, events.name, "k", CounterOpened(counter=name, agency_code="DUKCAPIL"))
            await enqueue(conn, counters.name, "A", CounterOpened(counter="A", agency_code="DUKCAPIL"))
        await eventually(lambda: handled == ["A", "B"] and copy.get("A") == "DUKCAPIL", timeout=60)
        assert copy.loaded.is_set()
        assert runtime.consumers[0].dead_lettered == 1

        # mpp-dlq reaches the same secured broker, and the dead letter's error quotes no value.
        dead = await dlq.read_dead_letters(runtime.kafka, events.dlq)
        assert len(dead) == 1 and dead[0].error_type == "ValueError"
        assert "0812-3456-0001" not in dead[0].headers["dlq-error"]
        assert len(dead[0].headers["dlq-error"]) <= 300
    finally:
        await runtime.stop()


async def test_a_wrong_password_or_a_client_without_tls_is_refused(
    secured_broker: LocalKafka, database: str
) -> None:
    good = kafka_connection(secured_settings(secured_broker, database))
    wrong_password = KafkaConnection(
        good.bootstrap_servers,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=USER,
        sasl_password="not-the-password",
        ssl_context=good.ssl_context,
    )
    for refused in (wrong_password, KafkaConnection(good.bootstrap_servers)):
        producer = AIOKafkaProducer(**refused.client_options(), request_timeout_ms=5000)
        with pytest.raises(Exception):  # noqa: B017 - aiokafka's error differs per failure
            async with asyncio.timeout(30):
                await producer.start()
        await producer.stop()
    producer = AIOKafkaProducer(**good.client_options())
    await producer.start()
    await producer.stop()


def test_sasl_settings_need_their_credentials() -> None:
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        ServiceSettings(kafka_security_protocol="SASL_SSL")
    plain = kafka_connection(ServiceSettings(kafka_bootstrap_servers="127.0.0.1:9092"))
    assert plain.client_options() == {"bootstrap_servers": "127.0.0.1:9092", "security_protocol": "PLAINTEXT"}
    assert plain.broker_security() is None
    secret = ServiceSettings(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password="p4ss"
    )
    assert "p4ss" not in repr(kafka_connection(secret))


def test_a_dead_letter_error_quotes_no_input() -> None:
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(CounterOpened).validate_json(b'{"counter": 6402024101900001, "agency_code": "X"}')
    except ValidationError as exc:
        message, kind = dead_letter_error(exc)
    assert kind == "unreadable" and "6402024101900001" not in message and "counter" in message
    message, kind = dead_letter_error(RuntimeError("nik 6402024101900001 " + "x" * 1000))
    assert kind == "RuntimeError" and "6402024101900001" not in message and len(message) <= 300
