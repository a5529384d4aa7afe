"""What a service process runs besides its own logic: pool, migrations, topics, broker, outbox relay.

A service builds one `ServiceRuntime` at import (so its handlers can register on `runtime.broker`), and the HTTP
lifespan starts and stops it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from pydantic import TypeAdapter

from mpp_contracts.topics import Topic
from mpp_kit.consumer import Handler, InboxConsumer, subscribe
from mpp_kit.db import create_pool, migrate, ping
from mpp_kit.kafka_security import kafka_connection
from mpp_kit.logs import setup_logging
from mpp_kit.metrics import BROKER_REACHABLE
from mpp_kit.periodic import Periodic
from mpp_kit.readmodel import M, ReadModel, S
from mpp_kit.relay import OutboxRelay
from mpp_kit.settings import ServiceSettings
from mpp_kit.telemetry import setup_tracing
from mpp_kit.topics import ensure_topics

log = logging.getLogger(__name__)


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        migrations: Path | None,
        topics: Iterable[Topic] = (),
        resource: dict[str, str] | None = None,
        broker_required_for_readiness: bool = True,
    ) -> None:
        """`broker_required_for_readiness=False`: the service does its job while Kafka is away (its outbox keeps
        the events), so readiness does not wait for the broker; `broker_reachable` in /metrics still tells."""
        self.settings = settings
        self._broker_required = broker_required_for_readiness
        self._migrations = migrations
        self._topics = tuple(topics)
        setup_logging(settings.service_name, settings.log_level)
        provider = setup_tracing(settings.service_name, **(resource or {}))
        # Every Kafka client of the service (broker, relay, read models, topic admin) connects the same way.
        self.kafka = kafka_connection(settings)
        self.broker = KafkaBroker(
            self.kafka.bootstrap_servers,
            security=self.kafka.broker_security(),
            client_id=settings.service_name,
            enable_idempotence=True,
            middlewares=(KafkaTelemetryMiddleware(tracer_provider=provider),),
            logger=None,
        )
        self.consumers: list[InboxConsumer[Any]] = []
        self._pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self._checks: dict[str, Callable[[], bool]] = {}

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    @property
    def dsn(self) -> str:
        return self.settings.database_url.get_secret_value()

    def consume(
        self,
        topic: Topic | str,
        model: Any,
        *,
        name: str,
        group_id: str | None = None,
        concerns: Callable[[Any], bool] | None = None,
    ) -> Callable[[Handler[Any]], Handler[Any]]:
        """Decorator: run `handler(conn, event)` for each event of `topic`, once, inside the inbox transaction.

        `model` is an event class or an annotated union of them (a topic carrying several event types).
        `concerns(event)`: whether an event is this service's business at all; the others are skipped without
        a transaction (a topic read by every site, each keeping its own).
        """

        def register(handler: Handler[Any]) -> Handler[Any]:
            consumer = InboxConsumer(
                name=name,
                topic=topic.name if isinstance(topic, Topic) else topic,
                parse=TypeAdapter(model).validate_json,
                handler=handler,
                pool=lambda: self.pool,
                broker=self.broker,
                max_attempts=self.settings.consumer_max_attempts,
                retry_backoff_s=self.settings.consumer_retry_backoff_s,
                concerns=concerns,
            )
            subscribe(consumer, group_id=group_id or name)
            self.consumers.append(consumer)
            return handler

        return register

    def on_start(self, fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        self._on_start.append(fn)
        return fn

    def on_stop(self, fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        self._on_stop.append(fn)
        return fn

    def every(self, name: str, interval_s: float, step: Callable[[], Awaitable[object]]) -> Periodic:
        """Run `step` every `interval_s` seconds while the service runs (started after the pool, in the order
        registered; a failing step is logged and tried again next round)."""
        task = Periodic(name, interval_s, step)
        self.on_start(task.start)
        self.on_stop(task.stop)
        return task

    def readiness_check(self, name: str, check: Callable[[], bool]) -> None:
        self._checks[name] = check

    def read_model(
        self,
        topic: Topic,
        model: type[M],
        state_of: Callable[[M], S],
        *,
        before_consuming: bool = False,
    ) -> ReadModel[M, S]:
        """A local copy of a compacted topic, started and stopped with the service, which is ready only once the
        copy is loaded. `before_consuming=True` also holds the service's consumers until then."""
        copy = ReadModel(topic.name, model, state_of, self.kafka)
        self.on_start(copy.start_and_load if before_consuming else copy.start)
        self.on_stop(copy.stop)
        self.readiness_check(f"{topic.name} loaded", copy.loaded.is_set)
        return copy

    async def start(self) -> None:
        await migrate(self.dsn, *([self._migrations] if self._migrations else []))
        self._pool = await create_pool(self.dsn, max_size=self.settings.database_pool_size)
        if self._topics:
            await ensure_topics(self.kafka, self._topics)
        for fn in self._on_start:
            await fn()
        await self.broker.start()
        self.relay = OutboxRelay(
            self.dsn,
            self._pool,
            self.kafka,
            poll_interval_s=self.settings.outbox_poll_interval_s,
            lease_s=self.settings.outbox_lease_s,
            linger_s=self.settings.outbox_linger_s,
            client_id=f"{self.settings.service_name}-relay",
        )
        await self.relay.start()
        log.info("service started")

    async def stop(self) -> None:
        if self.relay is not None:
            await self.relay.stop()
        await self.broker.stop()
        for fn in reversed(self._on_stop):
            await fn()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def readiness(self) -> dict[str, bool]:
        broker = await _broker_ping(self.broker)
        BROKER_REACHABLE.set(1 if broker else 0)
        checks = {
            "database": self._pool is not None and await ping(self._pool),
            "outbox_relay": self.relay is not None and self.relay.running,
        }
        if self._broker_required:
            checks["broker"] = broker
        checks.update({name: check() for name, check in self._checks.items()})
        return checks

    def lifespan(self) -> Callable[[FastAPI], Any]:
        @asynccontextmanager
        async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        return _lifespan


async def _broker_ping(broker: KafkaBroker) -> bool:
    try:
        return await asyncio.wait_for(broker.ping(timeout=2), 3)
    except Exception:
        return False
