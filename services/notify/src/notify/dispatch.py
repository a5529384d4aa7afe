"""Sending: claim due messages, mark them `sending` (committed), then call the providers.

Never twice. The `sending` mark is committed BEFORE any provider call. If notify dies between a call and
recording its answer, the message stays `sending` and is never sent again automatically: the provider's
delivery report (which carries our id) or the 72-hour sweep settles it. A message goes to another provider, or
to the same one later, only when the provider certainly did not take it: it refused (HTTP 4xx with a reason,
429, 5xx) or could not be reached. A timeout or a broken connection after the request went out may have
reached it (``maybe_accepted``): the message then waits in `sending`. At most once per id, unless the provider
said it did not accept (DESIGN.md, "Nothing done twice").

Failover and retries. Providers are tried in the order ``ProviderSelector.ranked()`` gives (priority, demoted
on error rate), each behind its own rate limiter. When none took the message, it goes back to `created` with a
bounded exponential backoff (``RetryPolicy``; a provider's Retry-After is honoured up to the cap); after
``max_attempts`` claims it ends `technical_failure`. A refusal because of the recipient (bad number, blocked
content) is `permanent_failure` at once, on any provider.

Why no retry library (stamina, tenacity): those retry a call inside one process by sleeping between attempts.
Our retry is a row state instead: the message goes back to `created` with its ``next_attempt_at`` in the
database, so a retry survives a restart, is picked up by any replica, frees its concurrency slot while it
waits, honours quiet hours, and is counted in ``attempts`` under the same lock as the claim. What a library
would add (the delay formula) is the three lines of ``RetryPolicy.delay``.

Quiet hours: while they last only urgent templates are claimed, and retries are scheduled after them.

Housekeeping: the same object runs the sweeps (``sweeps.py``) and the retention purge (``retention.py``)
periodically.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from opentelemetry import propagate, trace
from prometheus_client import Counter, Gauge

from mpp_contracts.notify import SmsStatus
from notify import messages, reports, repository, retention, sweeps
from notify.providers.base import SendResult, SmsProvider, TemporaryProviderError
from notify.providers.selection import ProviderSelector
from notify.quiet_hours import QuietHours

__all__ = ["Dispatcher", "Housekeeping", "RetryPolicy"]

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

PROVIDER_SENDS = Counter(
    "sms_provider_sends_total",
    "SMS send calls by provider and outcome",
    ["provider", "outcome"],  # accepted, refused_permanent, refused, error, answer_lost
)
PROVIDER_PRIORITY = Gauge(
    "sms_provider_effective_priority", "Effective priority (resting minus demotion)", ["provider"]
)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 2.0
    max_s: float = 300.0

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds before the next attempt after ``attempts`` claims: base * 2**attempts, capped."""
        delay: float = min(self.max_s, self.base_s * 2.0 ** min(attempts, 30))
        if retry_after:
            delay = min(self.max_s, max(delay, retry_after))
        return delay


@dataclass(frozen=True)
class Housekeeping:
    sweep_interval_s: float = 300.0
    sweeps: sweeps.SweepPolicy = field(default_factory=sweeps.SweepPolicy)
    retention_days: float = 7.0
    retention_interval_s: float = 3600.0


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        providers: ProviderSelector | SmsProvider,
        *,
        interval_s: float = 0.5,
        retry: RetryPolicy | None = None,
        concurrency: int = 20,
        quiet: QuietHours | None = None,
        housekeeping: Housekeeping | None = None,
    ) -> None:
        self._pool = pool
        self.selector = (
            providers
            if isinstance(providers, ProviderSelector)
            else ProviderSelector([(providers, 100, None)])
        )
        self._retry = retry or RetryPolicy()
        self._interval = interval_s
        self._concurrency = concurrency
        self._quiet = quiet or QuietHours.off()
        self._housekeeping = housekeeping or Housekeeping()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="sms-dispatcher"),
            asyncio.create_task(self._housekeep(), name="sms-housekeeping"),
        ]

    async def stop(self, grace_s: float = 5.0) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._inflight:
            # Let sends in flight record their answer; a send cut short stays `sending` (never resent).
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before looking: a wake-up from now on is not lost
            free = self._concurrency - len(self._inflight)
            claimed = 0
            if free > 0:
                try:
                    rows = await self._claim(free)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("claiming SMS to send failed")
                    rows = []
                for row in rows:
                    task = asyncio.create_task(self._send(row), name=f"sms-send-{row['id']}")
                    self._inflight.add(task)
                    task.add_done_callback(self._done)
                claimed = len(rows)
            if free > 0 and claimed == free:
                continue  # there may be more due messages and no slot is free: the next pass waits for one
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("SMS send task failed", exc_info=task.exception())
        self._wake.set()

    async def dispatch_once(self, batch: int = 20) -> int:
        """Claim up to ``batch`` due messages and send them; returns how many were claimed (tests, bench)."""
        rows = await self._claim(batch)
        results = await asyncio.gather(*(self._send(row) for row in rows), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("SMS send failed", exc_info=result)
        return len(rows)

    async def _claim(self, limit: int) -> list[asyncpg.Record]:
        holding = self._quiet.quiet_until(datetime.now(UTC)) is not None
        first = self.selector.ranked()[0].name
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await repository.claim_due(conn, limit, urgent_only=holding, urgent=self._quiet.urgent)
            for row in rows:
                await messages.set_status(conn, row["id"], "sending", provider=first)
        return list(rows)

    # ------------------------------------------------------------------ one message

    async def _send(self, row: asyncpg.Record) -> None:
        parent = propagate.extract({"traceparent": row["traceparent"]} if row["traceparent"] else {})
        with tracer.start_as_current_span("sms send", context=parent, kind=trace.SpanKind.CLIENT) as span:
            await self._send_in_span(row, span)

    async def _send_in_span(self, row: asyncpg.Record, span: trace.Span) -> None:
        message_id: UUID = row["id"]
        ids = {"message_id": str(message_id)}
        errors: list[str] = []
        retry_after: float | None = None
        for position, state in enumerate(self.selector.ranked()):
            if position > 0:
                await self._switch_provider(message_id, state.name)
            if state.limiter is not None:
                await state.limiter.acquire()
            span.set_attribute("sms.provider", state.name)
            try:
                result = await state.provider.send(str(message_id), row["phone_e164"], row["body"])
            except TemporaryProviderError as exc:
                self._outcome(state.name, ok=False, outcome="answer_lost" if exc.maybe_accepted else "error")
                if exc.maybe_accepted:
                    # The provider may have the message: sending it again could double it.
                    log.warning(
                        "provider answer lost; waiting for its delivery report or the sweep",
                        extra={**ids, "provider": state.name, "error_code": exc.error_code},
                    )
                    return
                errors.append(str(exc))
                if exc.retry_after:
                    retry_after = max(retry_after or 0.0, exc.retry_after)
                log.info(
                    "provider did not take the SMS",
                    extra={**ids, "provider": state.name, "error_code": exc.error_code},
                )
                continue
            except Exception as exc:
                # A bug in an adapter: we cannot tell whether the request went out, so never send it again.
                self._outcome(state.name, ok=False, outcome="error")
                log.exception("SMS provider adapter failed", extra={**ids, "provider": state.name})
                await self._final(message_id, "technical_failure", f"adapter error: {type(exc).__name__}")
                return
            if result.accepted:
                self._outcome(state.name, ok=True, outcome="accepted")
                await self._record_accepted(message_id, state.name, result)
                return
            if result.permanent:
                # The recipient or the content is at fault: no provider will do better. The provider is fine.
                self._outcome(state.name, ok=True, outcome="refused_permanent")
                await self._final(message_id, "permanent_failure", result.error_code, state.name)
                return
            self._outcome(state.name, ok=False, outcome="refused")
            errors.append(
                f"{state.name}: {result.error_code}" + (f" ({result.detail})" if result.detail else "")
            )
            log.info(
                "provider refused the SMS for a reason on its or our side",
                extra={**ids, "provider": state.name, "error_code": result.error_code},
            )
        await self._retry_later(message_id, row, "; ".join(errors)[:500] or "no provider", retry_after)

    def _outcome(self, provider: str, *, ok: bool, outcome: str) -> None:
        self.selector.record(provider, ok)
        PROVIDER_SENDS.labels(provider, outcome).inc()
        for state in self.selector.states:
            PROVIDER_PRIORITY.labels(state.name).set(state.effective_priority)

    async def _switch_provider(self, message_id: UUID, provider: str) -> None:
        async with self._pool.acquire() as conn:
            await repository.set_sending_provider(conn, message_id, provider)

    async def _record_accepted(self, message_id: UUID, provider: str, result: SendResult) -> None:
        status = result.status if result.status in ("sending", "sent", "delivered") else "sending"
        async with self._pool.acquire() as conn, conn.transaction():
            moved = await messages.set_status(
                conn, message_id, status, provider=provider, provider_message_id=result.provider_message_id
            )
            if not moved:  # still `sending` (a report is expected): keep the provider's id for reports
                await repository.record_provider(conn, message_id, provider, result.provider_message_id)
            if result.provider_message_id:
                await reports.apply_pending(conn, message_id, result.provider_message_id)

    async def _final(
        self, message_id: UUID, status: SmsStatus, error: str | None, provider: str | None = None
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await messages.set_status(conn, message_id, status, provider=provider, error=error)

    async def _retry_later(
        self, message_id: UUID, row: asyncpg.Record, error: str, retry_after: float | None
    ) -> None:
        attempts: int = row["attempts"]
        ids = {"message_id": str(message_id), "attempt": attempts}
        if attempts >= self._retry.max_attempts:
            await self._final(message_id, "technical_failure", f"retries exhausted: {error}")
            log.error("SMS not sent: retries exhausted", extra=ids)
            return
        due = datetime.now(UTC) + timedelta(seconds=self._retry.delay(attempts, retry_after))
        due = self._quiet.not_before(row["template"], due)
        async with self._pool.acquire() as conn:
            # No provider took it, so it is safe to send again later (back to `created`, not published).
            await repository.back_to_created(conn, message_id, error, due)
        log.info("SMS send will be retried", extra={**ids, "next_attempt_at": due.isoformat()})

    # ------------------------------------------------------------------ housekeeping

    async def housekeep_once(self, *, sweep: bool = True, purge: bool = True) -> dict[str, int]:
        counts: dict[str, int] = {}
        if sweep:
            counts.update(await sweeps.run_sweeps(self._pool, self._housekeeping.sweeps, self._quiet))
            if counts.get("requeued"):
                self.wake()
        if purge:
            counts["purged"] = await retention.purge(
                self._pool, older_than_days=self._housekeeping.retention_days
            )
        return counts

    async def _housekeep(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = next_purge = loop.time()
        while True:
            now = loop.time()
            sweep, purge = now >= next_sweep, now >= next_purge
            try:
                await self.housekeep_once(sweep=sweep, purge=purge)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SMS housekeeping failed; will try again")
            if sweep:
                next_sweep = now + self._housekeeping.sweep_interval_s
            if purge:
                next_purge = now + self._housekeeping.retention_interval_s
            await asyncio.sleep(max(0.0, min(next_sweep, next_purge) - loop.time()))
