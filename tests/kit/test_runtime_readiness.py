"""Readiness says whether the service can do its job: a service whose outbox keeps events while Kafka is away
stays ready without the broker, and /metrics tells whether the broker answered."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from mpp_devstack._proc import free_port
from mpp_devstack.infra import Infra
from mpp_kit.runtime import ServiceRuntime
from mpp_kit.settings import ServiceSettings


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """ServiceRuntime installs the JSON log handler on the root logger; give pytest its handlers back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def runtime(*, broker_required_for_readiness: bool = True) -> ServiceRuntime:
    nobody_listens = f"127.0.0.1:{free_port()}"
    return ServiceRuntime(
        ServiceSettings(service_name="readiness-test", kafka_bootstrap_servers=nobody_listens),
        migrations=None,
        broker_required_for_readiness=broker_required_for_readiness,
    )


async def test_a_service_that_needs_the_broker_is_not_ready_without_it() -> None:
    checks = await runtime().readiness()
    assert checks["broker"] is False
    assert REGISTRY.get_sample_value("broker_reachable") == 0


async def test_a_service_whose_outbox_keeps_events_does_not_wait_for_the_broker() -> None:
    checks = await runtime(broker_required_for_readiness=False).readiness()
    assert "broker" not in checks
    assert REGISTRY.get_sample_value("broker_reachable") == 0


async def test_broker_reachable_is_1_while_the_broker_answers(infra: Infra) -> None:
    answering = ServiceRuntime(
        ServiceSettings(service_name="readiness-test", kafka_bootstrap_servers=infra.kafka_bootstrap),
        migrations=None,
        broker_required_for_readiness=False,
    )
    await answering.broker.start()
    try:
        await answering.readiness()
    finally:
        await answering.broker.stop()
    assert REGISTRY.get_sample_value("broker_reachable") == 1
