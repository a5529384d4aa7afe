"""The outbox relay: claims outbox rows, publishes them with an idempotent producer, deletes them once acked.

- Claims a batch with `FOR UPDATE SKIP LOCKED` and a lease, so two relays never publish the same row at once and a
  relay that dies mid-batch leaves rows that another relay takes over after the lease expires.
- Keeps each key's order (an application's events): a row is claimed only when no earlier row of its key waits for
  a retry or is leased by another relay, and claims are serialised per database (`CLAIM_LOCK`), so replicas
  publish different keys side by side and the same key in turn. Not covered: within one pass, a send the broker
  finally refuses (after the producer's own retries) while a later one of its key went through.
- Publishes with `enable_idempotence=True` (which implies `acks=all`) and deletes a row only after its send was
  acknowledged. A crash between the two publishes the row again later: consumers absorb that with their inbox.
  The delete of one pass's published rows goes in the transaction of the next pass's claim (or, at stop, on its
  own), so a pass costs one commit, not two; meanwhile the rows keep their lease, and nobody else takes them.
- Wakes on LISTEN/NOTIFY on a dedicated connection (a pooled one would lose the listener when released), with a
  polling fallback; failed rows back off exponentially. Once woken it lingers a moment (`linger_s`) so the rows
  written by the writers of that moment go in one pass: a pass costs one commit, whatever its size.
- Connects to the broker lazily and again after a failed connect: while Kafka is away, claimed rows go back with
  the error and their backoff, and the relay publishes them once the broker answers.
- Exports the backlog and the age of its oldest row (`outbox_backlog`, `outbox_oldest_age_seconds`), read from the
  table every `metrics_interval_s` (the gauges say what waits, whoever's relay will publish it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from mpp_kit.kafka_security import KafkaTarget, connection_of
from mpp_kit.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED
from mpp_kit.outage import is_outage
from mpp_kit.outbox import NOTIFY_CHANNEL

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# Claims are taken one at a time per database (two relays' claims in parallel would not see each other's leases).
# The two-key form of the lock: its own key space, apart from the one-key locks of migrations and services.
CLAIM_LOCK = "SELECT pg_advisory_xact_lock(1297109065, 1)"


# A row may go only when every earlier row of its key may go too: one that waits for its retry, or that another
# relay is publishing (its lease not expired), holds back the later events of that key, and of that key only. So
# each key's events (an application's) reach their partition in the order they were written, whichever replica
# publishes them. Rows without a key have no order to keep.
def _may_go(row: str) -> str:
    """`row` (an alias of outbox) may be published now: not leased and its next attempt due, or its lease ($2
    seconds) expired with the relay that took it."""
    return (
        f"(({row}.lease IS NULL AND {row}.next_attempt_at <= now())"
        f" OR ({row}.lease IS NOT NULL AND {row}.leased_at < now() - make_interval(secs => $2)))"
    )


CLAIM = f"""
WITH ready AS (
    SELECT id FROM outbox o
    WHERE {_may_go("o")}
      AND NOT EXISTS (
          SELECT 1 FROM outbox e
          WHERE e.topic = o.topic AND e.key = o.key AND e.id < o.id AND NOT {_may_go("e")})
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox o SET lease = $3, leased_at = now(), attempts = o.attempts + 1
FROM ready WHERE o.id = ready.id
RETURNING o.id, o.event_id, o.topic, o.key, o.payload, o.headers, o.attempts
"""

BACKLOG = """
SELECT count(*) AS backlog, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_age_s
FROM outbox
"""

RELEASE = """
UPDATE outbox SET lease = NULL, leased_at = NULL, last_error = $3,
    next_attempt_at = now() + make_interval(secs => least(60, 0.5 * power(2, least(attempts, 10))))
WHERE id = $1 AND lease = $2
"""


class OutboxRelay:
    def __init__(
        self,
        dsn: str,
        pool: asyncpg.Pool,
        kafka: KafkaTarget,
        *,
        poll_interval_s: float = 1.0,
        lease_s: float = 30.0,
        batch_size: int = 200,
        client_id: str = "outbox-relay",
        metrics_interval_s: float = 5.0,
        linger_s: float = 0.05,
    ) -> None:
        self._dsn = dsn
        self._pool = pool
        self._kafka = connection_of(kafka)
        self._poll = poll_interval_s
        self._lease_s = lease_s
        self._batch = batch_size
        self._client_id = client_id
        self._metrics_interval_s = metrics_interval_s
        self._linger_s = linger_s
        self._metrics_at = 0.0  # monotonic time of the last refresh of the gauges
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        # Rows published and acknowledged, to delete with the next claim: (ids, their lease).
        self._published_rows: tuple[list[int], uuid.UUID] | None = None
        self.published = 0

    async def start(self, *, background: bool = True) -> None:
        """Try to connect the producer and, unless `background=False` (tests drive `relay_once`), run the loop.
        A broker that does not answer yet is not an error: `relay_once` connects when it does."""
        try:
            await self._connected_producer()
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("outbox relay started without the broker; will connect when it answers")
        if background:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def _connected_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                **self._kafka.client_options(),
                client_id=self._client_id,
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
            )
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with self._pool.acquire(timeout=5) as conn:
                await self._delete_published(conn)
            self._published_rows = None
        except Exception as exc:  # they keep their lease; whoever relays next publishes them again
            log.warning("published outbox rows not deleted at stop", extra={"error_type": type(exc).__name__})
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="outbox-listen")
        try:
            while True:
                try:
                    count = await self.relay_once()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if is_outage(exc):
                        log.warning("outbox relay pass failed: database unavailable; retrying")
                    else:
                        log.exception("outbox relay pass failed; retrying")
                    count = 0
                await self._refresh_metrics_when_due()
                if count < self._batch:
                    self._wake.clear()
                    # Rows published and not yet deleted are deleted by the next pass: under load a writer's
                    # NOTIFY brings it within moments; when all is quiet, it comes soon anyway.
                    wait = self._poll if self._published_rows is None else min(self._poll, 0.2)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
                        await asyncio.sleep(self._linger_s)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def refresh_metrics(self) -> None:
        """Set the backlog gauges from the table."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(BACKLOG)
        OUTBOX_BACKLOG.set(row["backlog"])
        OUTBOX_OLDEST_AGE.set(row["oldest_age_s"])

    async def _refresh_metrics_when_due(self) -> None:
        if time.monotonic() - self._metrics_at < self._metrics_interval_s:
            return
        self._metrics_at = time.monotonic()
        try:
            await self.refresh_metrics()
        except Exception as exc:  # the gauges keep their last values; the pass itself logs outages
            if not is_outage(exc):
                log.exception("outbox metrics not refreshed")

    async def _listen(self) -> None:
        """Keep one dedicated LISTEN connection alive; reconnect when it drops."""
        while True:
            conn: asyncpg.Connection | None = None
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self._dsn)
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
                self._wake.set()  # a NOTIFY sent while there was no listener is lost: look now
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._poll * 10)
                    if not lost.is_set():
                        await conn.fetchval("SELECT 1")  # notices a silently dead connection (asyncpg #519)
                raise ConnectionError("the LISTEN connection was closed")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox LISTEN connection lost; polling until it is back")
                await asyncio.sleep(self._poll)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()

    async def relay_once(self) -> int:
        """Claim one batch and publish it; returns how many rows were claimed."""
        lease = uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(CLAIM_LOCK)
            await self._delete_published(conn)
            rows = await conn.fetch(CLAIM, self._batch, self._lease_s, lease)
        self._published_rows = None
        if not rows:
            return 0
        try:
            producer = await self._connected_producer()
        except Exception as exc:
            log.warning("outbox relay cannot reach the broker; rows released with backoff")
            async with self._pool.acquire() as conn:
                await conn.executemany(RELEASE, [(row["id"], lease, repr(exc)[:500]) for row in rows])
            return 0
        sends: list[tuple[Any, asyncio.Future[Any]]] = []
        for row in sorted(rows, key=lambda r: r["id"]):
            headers: dict[str, str] = json.loads(row["headers"])
            headers["event-id"] = str(row["event_id"])
            # Continue the writer's trace: the publish span is a child of the context stored in the row.
            token = otel_context.attach(propagate.extract(headers))
            try:
                with tracer.start_as_current_span(f"{row['topic']} publish", kind=trace.SpanKind.PRODUCER):
                    propagate.inject(headers)
                    fut = await producer.send(
                        row["topic"],
                        value=row["payload"],
                        key=row["key"].encode() if row["key"] is not None else None,
                        headers=[(k, v.encode()) for k, v in headers.items()],
                    )
            finally:
                otel_context.detach(token)
            sends.append((row, fut))
        acked: list[int] = []
        for row, fut in sends:
            try:
                await fut
                acked.append(row["id"])
                OUTBOX_PUBLISHED.labels(row["topic"]).inc()
            except Exception as exc:
                log.warning(
                    "outbox publish failed", extra={"topic": row["topic"], "attempts": row["attempts"]}
                )
                async with self._pool.acquire() as conn:
                    await conn.execute(RELEASE, row["id"], lease, repr(exc)[:500])
        self._published_rows = (acked, lease) if acked else None
        self.published += len(acked)
        return len(rows)

    async def _delete_published(self, conn: asyncpg.Connection) -> None:
        """Delete the rows the last pass published, in the caller's transaction: the caller forgets them once it
        committed (rolled back, the next pass deletes them again)."""
        if self._published_rows is None:
            return
        ids, lease = self._published_rows
        await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[]) AND lease = $2", ids, lease)
