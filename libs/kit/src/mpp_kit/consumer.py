"""Idempotent consumers: inbox, explicit acknowledgement, bounded retries and a dead-letter topic.

For each message: parse it into its event model, then in ONE database transaction record (consumer, event_id) in
the inbox and do the handler's work. A duplicate (the inbox row exists) is acknowledged and skipped. The offset is
committed only after that transaction (FastStream's NACK_ON_ERROR policy: commit on success, seek back on error);
never the at-most-once ACK_FIRST default. A message that keeps failing goes to `<topic>.dlq` with the error after
`max_attempts`, and the consumer goes on with the next. A message that cannot even be parsed goes there at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from mpp_contracts.base import IntegrationEvent

log = logging.getLogger(__name__)

E = TypeVar("E", bound=IntegrationEvent)
Handler = Callable[[asyncpg.Connection, E], Awaitable[None]]


class PermanentError(Exception):
    """The handler knows retrying cannot help: the message goes to the DLQ at once."""


@dataclass
class InboxConsumer(Generic[E]):
    name: str
    topic: str
    parse: Callable[[bytes], E]
    handler: Handler[E]
    pool: Callable[[], asyncpg.Pool]
    broker: KafkaBroker
    max_attempts: int = 5
    retry_backoff_s: float = 0.2
    _attempts: dict[tuple[str, int, int], int] = field(default_factory=dict)
    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0

    async def process(self, msg: Any) -> None:
        record = msg.raw_message
        where = (record.topic, record.partition, record.offset)
        try:
            event = self.parse(msg.body)
        except ValidationError as exc:
            await self._dead_letter(msg, f"unreadable event: {exc.errors(include_input=False)}", 1)
            return
        try:
            async with self.pool().acquire() as conn, conn.transaction():
                fresh = await conn.fetchval(
                    "INSERT INTO inbox(consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
                    self.name,
                    event.event_id,
                )
                if not fresh:
                    self.duplicates += 1
                    return
                await self.handler(conn, event)
            self.processed += 1
            self._attempts.pop(where, None)
        except Exception as exc:
            attempts = self._attempts.get(where, 0) + 1
            self._attempts[where] = attempts
            if isinstance(exc, PermanentError) or attempts >= self.max_attempts:
                # If the DLQ publish itself fails, this raises: the message is redelivered, the count kept.
                await self._dead_letter(msg, repr(exc), attempts)
                self._attempts.pop(where, None)
                return
            log.warning(
                "handler failed; message will be redelivered",
                extra={
                    "consumer": self.name,
                    "topic": record.topic,
                    "offset": record.offset,
                    "attempt": attempts,
                },
            )
            await asyncio.sleep(self.retry_backoff_s * attempts)
            raise  # NACK: FastStream seeks back to this offset and delivers it again

    async def _dead_letter(self, msg: Any, error: str, attempts: int) -> None:
        record = msg.raw_message
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
        headers.update(
            {
                "dlq-error": error[:2000],
                "dlq-consumer": self.name,
                "dlq-attempts": str(attempts),
                "dlq-original-topic": record.topic,
                "dlq-original-partition": str(record.partition),
                "dlq-original-offset": str(record.offset),
            }
        )
        await self.broker.publish(
            record.value or b"", topic=f"{record.topic}.dlq", key=record.key, headers=headers
        )
        self.dead_lettered += 1
        log.error(
            "message sent to the DLQ",
            extra={
                "consumer": self.name,
                "topic": record.topic,
                "offset": record.offset,
                "attempts": attempts,
            },
        )


def subscribe(consumer: InboxConsumer[Any], *, group_id: str) -> None:
    """Register the consumer on its broker: its own group, from the earliest offset, commit after the work."""

    @consumer.broker.subscriber(
        consumer.topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
    )
    async def _on_message(msg: KafkaMessage) -> None:
        await consumer.process(msg)
