"""Idempotent consumers: inbox, explicit acknowledgement, bounded retries and a dead-letter topic.

Each poll's records are handled in ONE database transaction: their event ids go into the inbox in one statement
and the handler runs for each fresh event, in a savepoint of its own, in the records' order (per partition, so
per key: per application); duplicates (the inbox row exists) are skipped. The offsets are committed only after
that transaction (FastStream's NACK_ON_ERROR policy: commit on success, seek back on error); never the
at-most-once ACK_FIRST default. One transaction per poll instead of one per event is what keeps the pipeline's
commits per application low (bench/pipeline.py).

A bad event does not hold the others back: when an event's handler fails for any reason but an outage, its
savepoint is rolled back, the events before it commit, and it and the events after it (which must not overtake
it) are handled one by one, each in its own transaction. A failing one is tried again in place after a backoff
(no rewind: what committed before it does not come back), and after `max_attempts` goes to `<topic>.dlq` with
the error, and the consumer goes on. A record that cannot even be parsed goes there at once.

An outage is not the message's fault: when the handler fails because PostgreSQL does not answer (or the DLQ
publish because Kafka does not), the consumer pauses until the database answers again and NACKs (FastStream
seeks back to the poll's first record: the consumer keeps polling, so it stays in its group), without spending
attempts, for as long as the outage lasts (`mpp_kit.outage` says what an outage is). A record this process sent
to the DLQ is not sent again when such a rewind brings it back.

Each event's handler runs in a span of its own, a child of the trace its record carries, so what the handler
writes to its outbox continues the writer's trace (the broker middleware's span covers the whole poll).

Metrics (`mpp_kit.metrics`): each message's result in `consumer_messages_total`, dead letters in
`consumer_dead_letters_total`, and the partition's lag seen at each message in `consumer_lag`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
import stamina
from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import propagate, trace
from pydantic import ValidationError

from mpp_contracts.base import IntegrationEvent
from mpp_kit.logs import mask_personal_data
from mpp_kit.metrics import CONSUMER_DEAD_LETTERS, CONSUMER_LAG, CONSUMER_MESSAGES
from mpp_kit.outage import is_outage, is_timeout

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

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
    # Which events are this consumer's business (None: all). The others are acknowledged without touching the
    # database: no transaction, no inbox row (skipping twice is as good as once).
    concerns: Callable[[E], bool] | None = None
    _attempts: dict[tuple[str, int, int], int] = field(default_factory=dict)
    # Records sent to the DLQ by this process: a NACK rewinds to the start of the poll, so one dead-lettered
    # earlier in it comes again and must not be dead-lettered twice (kept in insertion order, bounded).
    _dead: dict[tuple[str, int, int], None] = field(default_factory=dict)
    processed: int = 0
    skipped: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    outages: int = 0

    async def process(self, msg: Any) -> None:
        """One record (a subscriber without batches, tests): a failure with attempts left raises (NACK), and the
        record is delivered again."""
        record = msg.raw_message
        self._record_lag(record, getattr(msg, "consumer", None))
        await self._process_record(record, retry_here=False)

    async def process_batch(self, msg: Any) -> None:
        """The records of one poll: one transaction for all of them; one by one when that fails."""
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        consumer = getattr(msg, "consumer", None)
        for record in records:
            self._record_lag(record, consumer)
        events: list[tuple[Any, E]] = []
        for record in records:
            where = (record.topic, record.partition, record.offset)
            if where in self._attempts or where in self._dead:
                break  # a record that failed before: one by one, so its attempts are counted
            try:
                events.append((record, self.parse(record.value or b"")))
            except ValidationError:
                break  # one by one: it goes to the DLQ in its place, the others around it are handled
        if len(events) < len(records) or len(records) == 1:
            await self._one_by_one(records)
            return
        if self.concerns is not None:
            ours = [(record, event) for record, event in events if self.concerns(event)]
            self._skip([record for record, event in events if not self.concerns(event)])
            if not ours:
                return
            events, records = ours, tuple(record for record, _ in ours)
        handled: set[int] = set()  # positions in `records`
        stopped_at: int | None = None  # the first event that failed: it and those after it go one by one
        error: Exception | None = None
        try:
            async with self.pool().acquire() as conn, conn.transaction():
                added = set(
                    await conn.fetchval(
                        "WITH added AS (INSERT INTO inbox(consumer, event_id) SELECT $1, unnest($2::uuid[])"
                        " ON CONFLICT DO NOTHING RETURNING event_id) SELECT coalesce(array_agg(event_id), '{}')"
                        " FROM added",
                        self.name,
                        [event.event_id for _, event in events],
                    )
                )
                done: set[Any] = set()
                for position, (record, event) in enumerate(events):
                    if event.event_id not in added or event.event_id in done:
                        continue  # in the inbox already (or twice in this poll): a duplicate
                    try:
                        # A savepoint each: a failing event is undone alone, what came before it commits, and
                        # nothing that succeeded runs twice (handlers may count metrics).
                        async with conn.transaction():
                            with _span_of(record):
                                await self.handler(conn, event)
                    except Exception as exc:
                        if is_outage(exc):
                            raise
                        stopped_at, error = position, exc
                        left = [e.event_id for _, e in events[position:] if e.event_id in added - done]
                        await conn.execute(
                            "DELETE FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                            self.name,
                            left,
                        )
                        break
                    done.add(event.event_id)
                    handled.add(position)
        except Exception as exc:
            if is_outage(exc):
                database_answered_at_once = await self._wait_for_database()
                if not (is_timeout(exc) and database_answered_at_once):
                    self._outage(records[0], len(records))
                    raise  # NACK: FastStream seeks back to the first record of each partition
            log.info(
                "batch failed; its records are handled one by one",
                extra={"consumer": self.name, "records": len(records), "error_type": type(exc).__name__},
            )
            await self._one_by_one(records)
            return
        committed = records if stopped_at is None else records[:stopped_at]
        self.processed += len(handled)
        self.duplicates += len(committed) - len(handled)
        for position, record in enumerate(committed):
            self._count(record.topic, "processed" if position in handled else "duplicate")
        if stopped_at is not None and error is not None:
            again = await self._failed(records[stopped_at], error)
            await self._one_by_one(records[stopped_at if again else stopped_at + 1 :])

    async def _one_by_one(self, records: tuple[Any, ...]) -> None:
        for record in records:
            await self._process_record(record, retry_here=True)

    async def _process_record(self, record: Any, *, retry_here: bool) -> None:
        """One record in its own transaction. A failure with attempts left is tried again here after its backoff
        (`retry_here`: no rewind, so the records before it in the poll do not come back) or raised (NACK)."""
        while (error := await self._attempt(record)) is not None:
            if not retry_here:
                raise error

    async def _attempt(self, record: Any) -> Exception | None:
        """None when the record is done with (handled, a duplicate, skipped or dead-lettered); the handler's error
        when it is to be tried again."""
        where = (record.topic, record.partition, record.offset)
        if where in self._dead:
            return None  # in the DLQ already: a rewind brought it back
        try:
            event = self.parse(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, exc, 1)
            return None
        if self.concerns is not None and not self.concerns(event):
            self._skip([record])
            return None
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
                    return None
                with _span_of(record):
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
                    self._outage(record, 1)
                    raise  # NACK: FastStream seeks back to the poll's first record and delivers it again
            if await self._failed(record, exc):
                return exc
        return None

    async def _failed(self, record: Any, exc: Exception) -> bool:
        """A handler failed (not an outage): one attempt spent. Out of attempts (or a PermanentError), the record
        goes to the DLQ (False); otherwise True, after its backoff: it is to be tried again."""
        where = (record.topic, record.partition, record.offset)
        attempts = self._attempts.get(where, 0) + 1
        self._attempts[where] = attempts
        if isinstance(exc, PermanentError) or attempts >= self.max_attempts:
            # If the DLQ publish fails even after the broker outage pause, this raises: the message is
            # redelivered, its count kept.
            await self._dead_letter(record, exc, attempts)
            self._attempts.pop(where, None)
            return False
        self._count(record.topic, "retried")
        log.warning(
            "handler failed; it will be tried again",
            extra={
                "consumer": self.name,
                "topic": record.topic,
                "offset": record.offset,
                "attempt": attempts,
            },
        )
        await asyncio.sleep(self.retry_backoff_s * attempts)
        return True

    def _skip(self, records: list[Any]) -> None:
        self.skipped += len(records)
        for record in records:
            self._count(record.topic, "skipped")

    def _outage(self, record: Any, records: int) -> None:
        self.outages += 1
        self._count(record.topic, "outage")
        log.warning(
            "database unavailable; records will be redelivered without spending an attempt",
            extra={"consumer": self.name, "topic": record.topic, "offset": record.offset, "records": records},
        )

    def _count(self, topic: str, result: str) -> None:
        CONSUMER_MESSAGES.labels(self.name, topic, result).inc()

    def _record_lag(self, record: Any, consumer: Any) -> None:
        """Messages behind the partition's end: its high watermark at the consumer's last fetch minus the offset
        after this message. Not known before the first fetch answer (nor for a message without its consumer)."""
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

    async def _dead_letter(self, record: Any, exc: Exception, attempts: int) -> None:
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
        self._dead[(record.topic, record.partition, record.offset)] = None
        while len(self._dead) > DEAD_REMEMBERED:
            del self._dead[next(iter(self._dead))]
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
DEAD_REMEMBERED = 10_000


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


@contextmanager
def _span_of(record: Any) -> Iterator[None]:
    """A span for one event's work, continuing the trace its record carries."""
    headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
    with tracer.start_as_current_span(
        f"{record.topic} process", context=propagate.extract(headers), kind=trace.SpanKind.CONSUMER
    ):
        yield


# Records per poll: enough to amortise a commit over many events, few enough that one transaction stays short
# and its savepoints stay within the 64 subtransactions PostgreSQL caches per backend (PGPROC_MAX_CACHED_SUBXIDS;
# past that, every snapshot on the server gets slower while the transaction lasts).
BATCH_MAX_RECORDS = 50
# How long a poll waits for records when there are none (FastStream then pauses as long again).
BATCH_WAIT_MS = 100


def subscribe(consumer: InboxConsumer[Any], *, group_id: str) -> None:
    """Register the consumer on its broker: its own group, from the earliest offset, a transaction per poll,
    commit after the work."""

    @consumer.broker.subscriber(
        consumer.topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        batch=True,
        max_records=BATCH_MAX_RECORDS,
        batch_timeout_ms=BATCH_WAIT_MS,
    )
    async def _on_batch(msg: KafkaMessage) -> None:
        await consumer.process_batch(msg)
