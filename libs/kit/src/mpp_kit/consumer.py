"""Idempotent consumers: inbox, explicit acknowledgement, bounded retries and a dead-letter topic.

For each message: parse it into its event model, then in ONE database transaction record (consumer, event_id) in
the inbox and do the handler's work. A duplicate (the inbox row exists) is acknowledged and skipped. The offset is
committed only after that transaction (FastStream's NACK_ON_ERROR policy: commit on success, seek back on error);
never the at-most-once ACK_FIRST default. A message that keeps failing goes to `<topic>.dlq` with the error after
`max_attempts`, and the consumer goes on with the next. A message that cannot even be parsed goes there at once.

An outage is not the message's fault: when the handler fails because PostgreSQL does not answer (or the DLQ
publish because Kafka does not), the consumer pauses until the database answers again and redelivers the message
without spending its attempts, for as long as the outage lasts (`mpp_kit.outage` says what an outage is).

Metrics (`mpp_kit.metrics`): each message's result in `consumer_messages_total`, dead letters in
`consumer_dead_letters_total`, and the partition's lag seen at each message in `consumer_lag`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
import stamina
from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from mpp_contracts.base import IntegrationEvent
from mpp_kit.logs import mask_personal_data
from mpp_kit.metrics import CONSUMER_DEAD_LETTERS, CONSUMER_LAG, CONSUMER_MESSAGES
from mpp_kit.outage import is_outage, is_timeout

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
    # Longest pause in one go while the database is away; then the message is redelivered (which keeps the
    # consumer polling Kafka, so it stays in its group) and the pause starts again.
    outage_pause_s: float = 10.0
    _attempts: dict[tuple[str, int, int], int] = field(default_factory=dict)
    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    outages: int = 0

    async def process(self, msg: Any) -> None:
        record = msg.raw_message
        where = (record.topic, record.partition, record.offset)
        self._record_lag(msg)
        try:
            event = self.parse(msg.body)
        except ValidationError as exc:
            await self._dead_letter(msg, exc, 1)
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
                    self._count(record.topic, "duplicate")
                    return
                await self.handler(conn, event)
            self.processed += 1
            self._count(record.topic, "processed")
            self._attempts.pop(where, None)
        except Exception as exc:
            if is_outage(exc):
                database_answered_at_once = await self._wait_for_database()
                # A timeout with the database answering at once may be the statement's own slowness: that one
                # spends an attempt, so a message whose work always times out still ends in the DLQ.
                if not (is_timeout(exc) and database_answered_at_once):
                    self.outages += 1
                    self._count(record.topic, "outage")
                    log.warning(
                        "database unavailable; message will be redelivered without spending an attempt",
                        extra={"consumer": self.name, "topic": record.topic, "offset": record.offset},
                    )
                    raise  # NACK: FastStream seeks back to this offset and delivers it again
            attempts = self._attempts.get(where, 0) + 1
            self._attempts[where] = attempts
            if isinstance(exc, PermanentError) or attempts >= self.max_attempts:
                # If the DLQ publish fails even after the broker outage pause, this raises: the message is
                # redelivered, its count kept.
                await self._dead_letter(msg, exc, attempts)
                self._attempts.pop(where, None)
                return
            self._count(record.topic, "retried")
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

    def _count(self, topic: str, result: str) -> None:
        CONSUMER_MESSAGES.labels(self.name, topic, result).inc()

    def _record_lag(self, msg: Any) -> None:
        """Messages behind the partition's end: its high watermark at the consumer's last fetch minus the offset
        after this message. Not known before the first fetch answer (nor for a message without its consumer)."""
        record = msg.raw_message
        consumer = getattr(msg, "consumer", None)
        highwater = getattr(consumer, "highwater", None)
        end = highwater(TopicPartition(record.topic, record.partition)) if callable(highwater) else None
        if isinstance(end, int):
            lag = max(end - record.offset - 1, 0)
            CONSUMER_LAG.labels(self.name, record.topic, str(record.partition)).set(lag)

    async def _wait_for_database(self) -> bool:
        """Wait (at most `outage_pause_s`) until the database answers; True if it answered the first probe."""
        probes = 0
        try:
            async for attempt in stamina.retry_context(
                on=is_outage, attempts=None, timeout=self.outage_pause_s, wait_initial=0.1, wait_max=2.0
            ):
                with attempt:
                    probes += 1
                    async with self.pool().acquire(timeout=2) as conn:
                        await conn.fetchval("SELECT 1")
        except Exception:
            return False  # still away after the pause: the redelivery will find out again
        return probes == 1

    async def _dead_letter(self, msg: Any, exc: Exception, attempts: int) -> None:
        record = msg.raw_message
        error, error_type = dead_letter_error(exc)
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
        headers.update(
            {
                "dlq-error": error,
                "dlq-error-type": error_type,
                "dlq-consumer": self.name,
                "dlq-attempts": str(attempts),
                "dlq-original-topic": record.topic,
                "dlq-original-partition": str(record.partition),
                "dlq-original-offset": str(record.offset),
            }
        )
        # The broker away is an outage too: keep trying for a while rather than redeliver at once.
        async for attempt in stamina.retry_context(
            on=is_outage, attempts=None, timeout=self.outage_pause_s, wait_initial=0.1, wait_max=2.0
        ):
            with attempt:
                await self.broker.publish(
                    record.value or b"", topic=f"{record.topic}.dlq", key=record.key, headers=headers
                )
        self.dead_lettered += 1
        self._count(record.topic, "dead_lettered")
        CONSUMER_DEAD_LETTERS.labels(self.name, record.topic).inc()
        log.error(
            "message sent to the DLQ",
            extra={
                "consumer": self.name,
                "topic": record.topic,
                "offset": record.offset,
                "attempts": attempts,
                "error_type": error_type,
            },
        )


DLQ_ERROR_MAX_CHARS = 300


def dead_letter_error(exc: Exception) -> tuple[str, str]:
    """The error of a dead letter as (short message, type), quoting no value of the message: a validation error
    says where and which rule, never the input; any other error's text is masked and cut short (a handler's
    message may quote what it was given)."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'event'}: {e['type']}" for e in exc.errors()
        )
        return f"unreadable event: {problems}"[:DLQ_ERROR_MAX_CHARS], "unreadable"
    return mask_personal_data(str(exc))[:DLQ_ERROR_MAX_CHARS], type(exc).__name__


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
