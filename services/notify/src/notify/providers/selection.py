"""Which provider gets the next SMS: priority order with error-rate demotion, and a send rate limit each.

The rules (GOV.UK Notify's ``provider_to_use`` and its scheduled priority adjustments, notifications-api
``send_to_providers.py`` / ``dao/provider_details_dao.py``, re-implemented and made deterministic):

- Every provider has a resting priority (configured). Its *effective* priority is the resting one minus a
  penalty. Providers are tried in effective-priority order, highest first; ties keep the configured order.
  A message that a provider certainly did not take (connection refused, 5xx, 429, a refusal that is not the
  recipient's fault) fails over to the next provider at once.
- Demotion: each send outcome is recorded (an error is a transport failure or a refusal on the provider's or
  our side; a refusal because the number is bad is *not* a provider error). When, within ``window_s``, a
  provider has at least ``min_samples`` outcomes and at least ``error_rate`` of them are errors, its penalty
  grows by ``step`` points, at most once per ``cooldown_s`` and up to ``max_penalty``.
- Recovery: every ``recovery_interval_s`` after its last demotion or recovery, a penalty shrinks by ``step``
  points, so a provider that was demoted drifts back to its resting priority (Notify: every 5 minutes).
- Rate limit: a leaky bucket per provider (``aiolimiter.AsyncLimiter``: ``burst`` sends at once, then
  ``rate_per_s``; waiters are served first come, first served). A send waits for its turn; being throttled by
  our own limiter never causes a failover (it is not an error of the provider). Rate 0 means no limiter.

The state is per process: with several notify replicas, each applies the limit and the demotion on its own.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter

from notify.providers.base import SmsProvider

__all__ = ["HealthPolicy", "ProviderSelector", "ProviderState", "send_limiter"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]


def send_limiter(rate_per_s: float, burst: int | None = None) -> AsyncLimiter | None:
    """At most ``rate_per_s`` sends per second after a burst of ``burst`` (default: the rate, at least 1);
    None (no limit) for rate 0."""
    if rate_per_s < 0:
        raise ValueError("rate_per_s must be >= 0")
    if rate_per_s == 0:
        return None
    capacity = burst if burst is not None else max(1, int(rate_per_s))
    # A bucket of `capacity` that drains at `rate_per_s`: capacity acquisitions per capacity / rate seconds.
    return AsyncLimiter(capacity, capacity / rate_per_s)


@dataclass(frozen=True)
class HealthPolicy:
    window_s: float = 60.0
    min_samples: int = 5
    error_rate: float = 0.5
    step: int = 25
    cooldown_s: float = 60.0
    recovery_interval_s: float = 300.0
    max_penalty: int = 100


@dataclass
class ProviderState:
    provider: SmsProvider
    priority: int
    limiter: AsyncLimiter | None
    order: int
    penalty: int = 0
    outcomes: deque[tuple[float, bool]] = field(default_factory=deque)
    last_demoted_at: float | None = None
    last_recovered_at: float | None = None
    demotions: int = 0

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def effective_priority(self) -> int:
        return self.priority - self.penalty


class ProviderSelector:
    """The configured providers with their health; ``ranked()`` is the order to try them in."""

    def __init__(
        self,
        providers: Iterable[tuple[SmsProvider, int, AsyncLimiter | None]],
        policy: HealthPolicy | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.policy = policy or HealthPolicy()
        self._clock = clock
        self._states = [
            ProviderState(provider, priority, limiter, order)
            for order, (provider, priority, limiter) in enumerate(providers)
        ]
        if not self._states:
            raise ValueError("at least one SMS provider is needed")
        names = [s.name for s in self._states]
        if len(set(names)) != len(names):
            raise ValueError(f"provider names must be unique: {names}")
        self._by_name = {s.name: s for s in self._states}

    @property
    def states(self) -> tuple[ProviderState, ...]:
        return tuple(self._states)

    def state(self, name: str) -> ProviderState:
        return self._by_name[name]

    def ranked(self) -> list[ProviderState]:
        now = self._clock()
        for state in self._states:
            self._recover(state, now)
        return sorted(self._states, key=lambda s: (-s.effective_priority, s.order))

    def record(self, name: str, ok: bool) -> None:
        """One send outcome of provider ``name``: ``ok`` False for a provider-side error."""
        state = self._by_name.get(name)
        if state is None:
            return
        now = self._clock()
        policy = self.policy
        state.outcomes.append((now, ok))
        while state.outcomes and state.outcomes[0][0] < now - policy.window_s:
            state.outcomes.popleft()
        if ok:
            return
        total = len(state.outcomes)
        errors = sum(1 for _, good in state.outcomes if not good)
        if total < policy.min_samples or errors / total < policy.error_rate:
            return
        if state.last_demoted_at is not None and now - state.last_demoted_at < policy.cooldown_s:
            return
        if state.penalty >= policy.max_penalty:
            return
        state.penalty = min(policy.max_penalty, state.penalty + policy.step)
        state.last_demoted_at = now
        state.demotions += 1
        log.warning(
            "SMS provider demoted",
            extra={
                "provider": name,
                "errors": errors,
                "outcomes": total,
                "effective_priority": state.effective_priority,
            },
        )

    def _recover(self, state: ProviderState, now: float) -> None:
        if state.penalty <= 0:
            return
        since = max(t for t in (state.last_demoted_at, state.last_recovered_at) if t is not None)
        steps = int((now - since) // self.policy.recovery_interval_s)
        if steps <= 0:
            return
        state.penalty = max(0, state.penalty - steps * self.policy.step)
        state.last_recovered_at = since + steps * self.policy.recovery_interval_s
        log.info(
            "SMS provider priority recovering",
            extra={"provider": state.name, "effective_priority": state.effective_priority},
        )
