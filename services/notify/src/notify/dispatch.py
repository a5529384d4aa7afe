"""Sending: take a rate-limit token, claim a due message (`sending`, committed), call the provider.

Never twice. The claim is committed BEFORE the provider call, together with ``call_started_at``: "a call of
this claim may have reached the provider". It is taken only once the provider's rate-limit token is in hand, so
nothing waits for the limiter in `sending` (a crash then loses nothing: what was not claimed is still
`created`). The marker is cleared only by the sender itself, when the provider certainly did not take the
message (it refused, HTTP 4xx with a reason, 429, 5xx, or could not be reached); failing over to the next
provider then waits for that provider's token with no call in flight, and marks the next call with a
compare-and-set on the claim (``attempts``), so a claim sent back to `created` meanwhile is never called.

So after a crash, a `sending` message is either
- claimed with no call in flight (no marker): sent back to `created` when the dispatcher starts (and by the
  sweeps, for a replica that does not come back);
- possibly at the provider (marker, nothing confirmed since): never re-sent blindly. Its delivery report (which
  carries our id), or a lookup at the provider (``reconcile_once``, for providers that can be asked, once the
  call is certainly over) settles it: found, it is recorded as the send answer would have been; certainly not
  there, it is due again. Until then it is *unconfirmed*: listed by the ops API (``unconfirmed_for_s``) and
  counted in /metrics (``sms_unconfirmed_messages``, ``sms_unconfirmed_oldest_age_seconds``); the 72-hour
  sweep ends it. A timeout or a broken connection after the request went out (``maybe_accepted``) leaves a
  message in the same state. At most once per id, unless the provider said it did not accept.

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

Start: ``start(serving)`` sends nothing before ``serving`` is done (notify's HTTP server listening: a delivery
report for what is sent needs somewhere to go). Housekeeping: the same object runs the sweeps (``sweeps.py``),
the reconciliation of unconfirmed messages and the retention purge (``retention.py``) periodically.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from aiolimiter import AsyncLimiter
from opentelemetry import propagate, trace
from prometheus_client import Counter, Gauge

from mpp_contracts.notify import SmsStatus
from mpp_kit.group_commit import GroupCommit
from notify import messages, reports, repository, retention, sweeps
from notify.domain import RetryPolicy
from notify.providers.base import LooksUp, SendResult, SmsProvider, TemporaryProviderError
from notify.providers.selection import ProviderSelector, ProviderState
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
UNCONFIRMED = Gauge(
    "sms_unconfirmed_messages",
    "SMS whose provider call may have reached the provider, with no answer, report or lookup confirming it",
)
UNCONFIRMED_AGE = Gauge(
    "sms_unconfirmed_oldest_age_seconds",
    "Seconds since the provider call of the oldest unconfirmed SMS started (0 when there is none)",
)
LOOKUPS = Counter(
    "sms_provider_lookups_total",
    "Lookups of unconfirmed SMS at their provider, by outcome",
    ["provider", "outcome"],  # found, not_found, unknown
)

_RECONCILE_BATCH = 100


@dataclass(frozen=True)
class Housekeeping:
    sweep_interval_s: float = 300.0
    sweeps: sweeps.SweepPolicy = field(default_factory=sweeps.SweepPolicy)
    retention_days: float = 7.0
    retention_interval_s: float = 3600.0
    reconcile_interval_s: float = 30.0
    # An unconfirmed message is looked up only this long after its call started: a request our client gave up
    # on may still be processed by the provider for a while, and must not be found missing meanwhile.
    reconcile_after_s: float = 120.0


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
        # The answers of concurrent sends recorded together: one commit for the sends answered meanwhile.
        self._answers: GroupCommit[tuple[UUID, str, SendResult], None] = GroupCommit(
            lambda: self._pool, _record_accepted, order_by=lambda answer: answer[0]
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    async def start(self, serving: Callable[[], Awaitable[None]] | None = None) -> None:
        """Start housekeeping, and sending once ``serving()`` is done (when given)."""
        self._tasks = [
            asyncio.create_task(self._run(serving), name="sms-dispatcher"),
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
            # Let sends in flight record their answer. A send cut short in its provider call stays unconfirmed
            # (never resent blindly); one cut short between providers is sent again after the next start.
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    # ------------------------------------------------------------------ the loop

    async def _run(self, serving: Callable[[], Awaitable[None]] | None) -> None:
        if serving is not None:
            await serving()
        try:
            async with self._pool.acquire() as conn:
                redriven = await repository.redrive_uncalled(conn, 0.0)
            if redriven:
                log.info("claimed SMS that were never called are due again", extra={"messages": redriven})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("re-driving claimed SMS failed; the sweep will")
        while True:
            self._wake.clear()  # before looking: a wake-up from now on is not lost
            free = self._concurrency - len(self._inflight)
            claimed = 0
            if free > 0:
                try:
                    first, rows, _ = await self._claim(free)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("claiming SMS to send failed")
                    first, rows = None, []
                for row in rows:
                    task = asyncio.create_task(self._send(row, first), name=f"sms-send-{row['id']}")
                    self._inflight.add(task)
                    task.add_done_callback(self._done)
                claimed = len(rows)
            if claimed:
                continue  # more may be due: the next pass waits for a token or a free slot
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("SMS send task failed", exc_info=task.exception())
        self._wake.set()

    async def dispatch_once(self, batch: int = 20) -> int:
        """Claim up to ``batch`` due messages (each once its token is there) and send them; returns how many
        were claimed (tests, bench)."""
        sends: list[asyncio.Task[None]] = []
        more = True
        while more and len(sends) < batch:
            first, rows, more = await self._claim(batch - len(sends))
            sends += [asyncio.create_task(self._send(row, first)) for row in rows]
        results = await asyncio.gather(*sends, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("SMS send failed", exc_info=result)
        return len(sends)

    async def _claim(self, limit: int) -> tuple[ProviderState | None, list[asyncpg.Record], bool]:
        """Up to ``limit`` due messages claimed for the first provider, as many as it has tokens for: the
        tokens are taken first (waiting for the first one), the claim commits after. Also says whether more
        were due than tokens were there."""
        holding = self._quiet.quiet_until(datetime.now(UTC)) is not None
        urgent = self._quiet.urgent
        first = self.selector.ranked()[0]
        if first.limiter is None:
            due = granted = limit  # no tokens to take first: the claim itself says how many were due
        else:
            async with self._pool.acquire() as conn:
                due = await repository.count_due(conn, limit, urgent_only=holding, urgent=urgent)
            if not due:
                return None, [], False
            granted = await _tokens(first.limiter, due)
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await repository.claim_due(conn, granted, urgent_only=holding, urgent=urgent)
            for row in rows:
                await messages.set_status(conn, row["id"], "sending", provider=first.name)
        if not rows:
            return None, [], False
        return first, list(rows), granted < due

    # ------------------------------------------------------------------ one message

    async def _send(self, row: asyncpg.Record, first: ProviderState | None = None) -> None:
        parent = propagate.extract({"traceparent": row["traceparent"]} if row["traceparent"] else {})
        with tracer.start_as_current_span("sms send", context=parent, kind=trace.SpanKind.CLIENT) as span:
            await self._send_in_span(row, span, first)

    async def _send_in_span(
        self, row: asyncpg.Record, span: trace.Span, first: ProviderState | None = None
    ) -> None:
        """Send one claimed message. ``first``: the provider the claim took a token for and marked the call
        of; without it (a claim made elsewhere, with no call marked), every provider is waited for and marked
        here."""
        message_id: UUID = row["id"]
        attempts: int = row["attempts"]
        ids = {"message_id": str(message_id)}
        errors: list[str] = []
        retry_after: float | None = None
        order = self.selector.ranked()
        if first is not None:
            order = [first, *(state for state in order if state is not first)]
        for position, state in enumerate(order):
            if position > 0 or first is None:
                if position > 0:  # the previous provider certainly did not take it: no call in flight now
                    async with self._pool.acquire() as conn:
                        await repository.call_ended_untaken(conn, message_id, attempts)
                if state.limiter is not None:
                    await state.limiter.acquire()
                async with self._pool.acquire() as conn:
                    if not await repository.call_starting(conn, message_id, attempts, state.name):
                        log.warning("SMS claim taken back before its call; not sending", extra=ids)
                        return
            span.set_attribute("sms.provider", state.name)
            try:
                result = await state.provider.send(str(message_id), row["phone_e164"], row["body"])
            except TemporaryProviderError as exc:
                self._outcome(state.name, ok=False, outcome="answer_lost" if exc.maybe_accepted else "error")
                if exc.maybe_accepted:
                    # The provider may have the message: sending it again could double it.
                    log.warning(
                        "provider answer lost; the message is unconfirmed until a report or a lookup",
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

    async def _record_accepted(self, message_id: UUID, provider: str, result: SendResult) -> None:
        await self._answers.run((message_id, provider, result))

    async def _final(
        self, message_id: UUID, status: SmsStatus, error: str | None, provider: str | None = None
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await messages.set_status(conn, message_id, status, provider=provider, error=error)

    def _next_attempt(self, row: asyncpg.Record, retry_after: float | None = None) -> datetime | None:
        """When a message no provider took is due again; None when its attempts are spent."""
        if row["attempts"] >= self._retry.max_attempts:
            return None
        due = datetime.now(UTC) + timedelta(seconds=self._retry.delay(row["attempts"], retry_after))
        return self._quiet.not_before(row["template"], due)

    async def _retry_later(
        self, message_id: UUID, row: asyncpg.Record, error: str, retry_after: float | None
    ) -> None:
        ids = {"message_id": str(message_id), "attempt": row["attempts"]}
        due = self._next_attempt(row, retry_after)
        if due is None:
            await self._final(message_id, "technical_failure", f"retries exhausted: {error}")
            log.error("SMS not sent: retries exhausted", extra=ids)
            return
        async with self._pool.acquire() as conn:
            # No provider took it, so it is safe to send again later (back to `created`, not published).
            await repository.back_to_created(conn, message_id, row["attempts"], error, due)
        log.info("SMS send will be retried", extra={**ids, "next_attempt_at": due.isoformat()})

    # ------------------------------------------------------------------ unconfirmed messages

    async def reconcile_once(self) -> dict[str, int]:
        """Ask the providers that can be asked about messages unconfirmed for ``reconcile_after_s``; refresh the
        unconfirmed gauges. Returns counts by outcome."""
        counts = {"found": 0, "not_found": 0, "unknown": 0}
        async with self._pool.acquire() as conn:
            rows = await repository.unconfirmed(conn, self._housekeeping.reconcile_after_s, _RECONCILE_BATCH)
        for row in rows:
            outcome = await self._reconcile(row)
            counts[outcome] += 1
        if counts["not_found"]:
            self.wake()
        count, age = await repository.unconfirmed_summary(self._pool)
        UNCONFIRMED.set(count)
        UNCONFIRMED_AGE.set(age)
        if counts["found"] or counts["not_found"]:
            log.info("unconfirmed SMS looked up at their provider", extra=counts)
        return counts

    async def _reconcile(self, row: asyncpg.Record) -> str:
        message_id: UUID = row["id"]
        ids = {"message_id": str(message_id), "provider": row["provider"]}
        provider = next((s.provider for s in self.selector.states if s.name == row["provider"]), None)
        if not isinstance(provider, LooksUp) or not row["phone_e164"] or not row["body"]:
            return "unknown"  # this provider cannot be asked (or the text is purged): ops see it unconfirmed
        try:
            found = await provider.look_up(
                str(message_id), row["phone_e164"], row["body"], row["call_started_at"]
            )
        except TemporaryProviderError as exc:
            LOOKUPS.labels(provider.name, "unknown").inc()
            log.info("provider lookup gave no answer", extra={**ids, "error_code": exc.error_code})
            return "unknown"
        if found is None:
            LOOKUPS.labels(provider.name, "not_found").inc()
            await self._not_at_provider(row)
            return "not_found"
        async with self._pool.acquire() as conn:
            taken = found.provider_message_id and await repository.provider_message_known(
                conn, found.provider_message_id, message_id
            )
        if taken:  # the same text to the same number, recorded for another message: cannot tell which
            LOOKUPS.labels(provider.name, "unknown").inc()
            return "unknown"
        LOOKUPS.labels(provider.name, "found").inc()
        if found.accepted:
            await self._record_accepted(message_id, provider.name, found)
        else:
            async with self._pool.acquire() as conn, conn.transaction():
                await repository.record_provider(conn, message_id, provider.name, found.provider_message_id)
                await messages.set_status(conn, message_id, found.status, error=found.error_code)
        log.info("unconfirmed SMS found at its provider", extra={**ids, "status": found.status})
        return "found"

    async def _not_at_provider(self, row: asyncpg.Record) -> None:
        """The provider does not have it: as a refusal, the message is due again (or out of attempts)."""
        error = f"{row['provider']}: not at the provider after its answer was lost"
        due = self._next_attempt(row)
        async with self._pool.acquire() as conn, conn.transaction():
            if due is None:
                await messages.set_status(
                    conn, row["id"], "technical_failure", error=f"retries exhausted: {error}"
                )
                return
            await repository.requeue_unconfirmed(
                conn, row["id"], row["attempts"], row["call_started_at"], error, due
            )
        log.warning(
            "SMS not at its provider after the answer was lost; due again",
            extra={"message_id": str(row["id"])},
        )

    # ------------------------------------------------------------------ housekeeping

    async def housekeep_once(
        self, *, sweep: bool = True, purge: bool = True, reconcile: bool = True
    ) -> dict[str, int]:
        counts: dict[str, int] = {}
        if sweep:
            counts.update(await sweeps.run_sweeps(self._pool, self._housekeeping.sweeps, self._quiet))
            if counts.get("requeued") or counts.get("redriven"):
                self.wake()
        if reconcile:
            counts.update(await self.reconcile_once())
        if purge:
            counts["purged"] = await retention.purge(
                self._pool, older_than_days=self._housekeeping.retention_days
            )
        return counts

    async def _housekeep(self) -> None:
        loop = asyncio.get_running_loop()
        policy = self._housekeeping
        next_sweep = next_purge = next_reconcile = loop.time()
        while True:
            now = loop.time()
            sweep, purge, reconcile = now >= next_sweep, now >= next_purge, now >= next_reconcile
            try:
                await self.housekeep_once(sweep=sweep, purge=purge, reconcile=reconcile)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SMS housekeeping failed; will try again")
            if sweep:
                next_sweep = now + policy.sweep_interval_s
            if purge:
                next_purge = now + policy.retention_interval_s
            if reconcile:
                next_reconcile = now + policy.reconcile_interval_s
            await asyncio.sleep(max(0.0, min(next_sweep, next_purge, next_reconcile) - loop.time()))


async def _record_accepted(conn: asyncpg.Connection, answer: tuple[UUID, str, SendResult]) -> None:
    """A provider took the message: its status, who took it and its id there (for reports), and any report that
    overtook this answer."""
    message_id, provider, result = answer
    status = result.status if result.status in ("sending", "sent", "delivered") else "sending"
    if result.provider_message_id:
        await repository.lock_provider_message_id(conn, result.provider_message_id)
    await messages.set_status(
        conn, message_id, status, provider=provider, provider_message_id=result.provider_message_id
    )
    await repository.record_provider(conn, message_id, provider, result.provider_message_id)
    if result.provider_message_id:
        await reports.apply_pending(conn, message_id, result.provider_message_id)


async def _tokens(limiter: AsyncLimiter | None, wanted: int) -> int:
    """Take up to ``wanted`` send tokens: the first one waits, the others only if the bucket has them now."""
    if limiter is None:
        return wanted
    await limiter.acquire()
    granted = 1
    while granted < wanted and limiter.has_capacity():
        await limiter.acquire()
        granted += 1
    return granted
