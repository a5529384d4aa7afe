"""Sending: claim due messages, mark them `sending` (committed), then call the provider.

The `sending` mark is committed BEFORE the provider call. If notify dies between the call and recording its
answer, the message stays `sending` and is never sent again automatically: the provider's delivery report (which
carries our id) or the 72-hour sweep settles it. At most once per id, unless the provider said it did not accept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from uuid import UUID

import asyncpg
from opentelemetry import propagate, trace

from notify import messages
from notify.providers.base import SendResult, SmsProvider, TemporaryProviderError

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

CLAIM = """
UPDATE sms_message SET attempts = attempts + 1
WHERE id IN (
    SELECT id FROM sms_message WHERE status = 'created' AND next_attempt_at <= now()
    ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
)
RETURNING id, phone_e164, body, attempts, traceparent
"""


class Dispatcher:
    def __init__(
        self, pool: asyncpg.Pool, provider: SmsProvider, *, max_attempts: int, interval_s: float
    ) -> None:
        self._pool = pool
        self._provider = provider
        self._max_attempts = max_attempts
        self._interval = interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sms-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch pass failed")
                sent = 0
            if not sent:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)

    async def dispatch_once(self, batch: int = 20) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(CLAIM, batch)
            for row in rows:
                await messages.set_status(conn, row["id"], "sending", provider=self._provider.name)
        await asyncio.gather(*(self._send(row) for row in rows))
        return len(rows)

    async def _send(self, row: asyncpg.Record) -> None:
        message_id: UUID = row["id"]
        parent = propagate.extract({"traceparent": row["traceparent"]} if row["traceparent"] else {})
        with tracer.start_as_current_span("sms send", context=parent, kind=trace.SpanKind.CLIENT) as span:
            span.set_attribute("sms.provider", self._provider.name)
            await self._send_in_span(message_id, row)

    async def _send_in_span(self, message_id: UUID, row: asyncpg.Record) -> None:
        try:
            result = await self._provider.send(str(message_id), row["phone_e164"], row["body"])
        except TemporaryProviderError as exc:
            await self._temporary(message_id, row["attempts"], exc)
            return
        except Exception as exc:
            log.exception("provider adapter failed", extra={"message_id": str(message_id)})
            await self._temporary(message_id, row["attempts"], exc)
            return
        await self._record(message_id, result)

    async def _record(self, message_id: UUID, result: SendResult) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            if result.accepted:
                await messages.set_status(
                    conn, message_id, "sent", provider_message_id=result.provider_message_id
                )
            elif result.permanent:
                await messages.set_status(conn, message_id, "permanent_failure", error=result.error_code)
            else:
                await messages.set_status(conn, message_id, result.status, error=result.error_code)

    async def _temporary(self, message_id: UUID, attempts: int, exc: Exception) -> None:
        if isinstance(exc, TemporaryProviderError) and exc.maybe_accepted:
            # The provider may have the message: sending again could double it. Wait for its report or the sweep.
            log.warning(
                "provider answer lost; waiting for its delivery report", extra={"message_id": str(message_id)}
            )
            return
        async with self._pool.acquire() as conn, conn.transaction():
            if attempts >= self._max_attempts:
                await messages.set_status(conn, message_id, "technical_failure", error=repr(exc)[:300])
                return
            # Not accepted: safe to try again later, with a bounded exponential backoff.
            await conn.execute(
                "UPDATE sms_message SET status = 'created', last_error = $2,"
                " next_attempt_at = now() + make_interval(secs => least(300, 2 * power(2, $3)))"
                " WHERE id = $1 AND status = 'sending'",
                message_id,
                repr(exc)[:300],
                attempts,
            )
        log.info("send will be retried", extra={"message_id": str(message_id), "attempt": attempts})
