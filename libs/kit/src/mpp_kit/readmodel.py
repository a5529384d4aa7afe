"""A local copy of a compacted topic (the catalogue), kept in memory and up to date.

At start it reads every partition from the beginning up to the end offsets seen at start; only then is it ready.
After that it follows the topic live. A tombstone (null value) removes the key. No consumer group: every replica
keeps its own full copy, and a restart rebuilds the same copy from the topic. `read_model_items{topic}` and
`read_model_loaded{topic}` in /metrics say how far it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel, ValidationError

from mpp_kit.kafka_security import KafkaTarget, connection_of
from mpp_kit.metrics import READ_MODEL_ITEMS, READ_MODEL_LOADED

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
S = TypeVar("S")


class ReadModel(Generic[M, S]):
    def __init__(self, topic: str, model: type[M], state_of: Callable[[M], S], kafka: KafkaTarget) -> None:
        self.topic = topic
        self._model = model
        self._state_of = state_of
        self._kafka = connection_of(kafka)
        self.items: dict[str, S] = {}
        self.loaded = asyncio.Event()
        self.changes = 0
        READ_MODEL_LOADED.labels(topic).set(0)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    def get(self, key: str) -> S | None:
        return self.items.get(key)

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(**self._kafka.client_options(), enable_auto_commit=False, group_id=None)
        await consumer.start()
        self._consumer = consumer
        partitions: set[int] | None = None
        for _ in range(50):  # a topic just created may take a moment to show up in metadata
            partitions = consumer.partitions_for_topic(self.topic)
            if partitions:
                break
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        if not partitions:
            raise RuntimeError(f"topic {self.topic} does not exist; run the topic-creation job first")
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        self._task = asyncio.create_task(self._follow(end), name=f"readmodel-{self.topic}")

    async def wait_loaded(self, timeout: float) -> None:
        await asyncio.wait_for(self.loaded.wait(), timeout)

    async def start_and_load(self, timeout: float = 120.0) -> None:
        """Start, and return only once the copy is complete (for consumers that must not act on a partial copy)."""
        await self.start()
        await self.wait_loaded(timeout)

    async def _follow(self, end: dict[TopicPartition, int]) -> None:
        consumer = self._consumer
        assert consumer is not None
        pending = {tp for tp, offset in end.items() if offset > 0}
        if not pending:
            self._mark_loaded()
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    self._apply(record.key, record.value)
            if not self.loaded.is_set():
                for tp in list(pending):
                    if await consumer.position(tp) >= end[tp]:
                        pending.discard(tp)
                if not pending:
                    log.info("read model loaded", extra={"topic": self.topic, "items": len(self.items)})
                    self._mark_loaded()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        code = key.decode()
        if value is None:
            self.items.pop(code, None)
        else:
            try:
                self.items[code] = self._state_of(self._model.model_validate_json(value))
            except ValidationError:
                log.error(
                    "unreadable record in compacted topic skipped", extra={"topic": self.topic, "key": code}
                )
                return
        self.changes += 1
        READ_MODEL_ITEMS.labels(self.topic).set(len(self.items))

    def _mark_loaded(self) -> None:
        self.loaded.set()
        READ_MODEL_LOADED.labels(self.topic).set(1)
        READ_MODEL_ITEMS.labels(self.topic).set(len(self.items))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
