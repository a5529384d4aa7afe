"""Provider selection: priority order, demotion on error rate, recovery, rate limits (pure, with a fake clock),
and the providers built from settings."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from aiolimiter import AsyncLimiter
from pydantic import ValidationError

from notify.providers.base import SendResult
from notify.providers.factory import build_selector
from notify.providers.selection import HealthPolicy, ProviderSelector, send_limiter
from notify.settings import NotifySettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Fake:
    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def send(self, message_id: str, to_e164: str, body: str) -> SendResult:
        return SendResult.ok("x")


POLICY = HealthPolicy(
    window_s=60, min_samples=4, error_rate=0.5, step=25, cooldown_s=60, recovery_interval_s=300
)


def selector(*priorities: tuple[str, int], clock: Clock, policy: HealthPolicy = POLICY) -> ProviderSelector:
    return ProviderSelector([(Fake(n), p, None) for n, p in priorities], policy, clock=clock)


def names(sel: ProviderSelector) -> list[str]:
    return [s.name for s in sel.ranked()]


def test_highest_priority_first_and_ties_keep_the_configured_order() -> None:
    clock = Clock()
    assert names(selector(("a", 50), ("b", 90), ("c", 70), clock=clock)) == ["b", "c", "a"]
    assert names(selector(("a", 50), ("b", 50), clock=clock)) == ["a", "b"]


def test_demoted_when_the_error_rate_reaches_the_threshold_with_enough_samples() -> None:
    clock = Clock()
    sel = selector(("twilio", 100), ("zenziva", 90), clock=clock)
    for _ in range(3):
        sel.record("twilio", ok=False)  # 3 errors: below min_samples (4)
    assert sel.state("twilio").penalty == 0
    sel.record("twilio", ok=True)  # 4 samples, 3 errors, but a success never demotes
    assert sel.state("twilio").penalty == 0
    sel.record("twilio", ok=False)  # 5 samples, 4 errors (80 % >= 50 %)
    assert sel.state("twilio").penalty == 25
    assert sel.state("twilio").effective_priority == 75
    assert names(sel) == ["zenziva", "twilio"]


def test_no_demotion_below_the_error_rate() -> None:
    clock = Clock()
    sel = selector(("twilio", 100), clock=clock)
    for ok in (True, True, True, False, True, True, False):
        sel.record("twilio", ok=ok)
    assert sel.state("twilio").penalty == 0


def test_old_outcomes_leave_the_window() -> None:
    clock = Clock()
    sel = selector(("twilio", 100), clock=clock)
    for _ in range(3):
        sel.record("twilio", ok=False)
    clock.advance(61)
    sel.record("twilio", ok=False)  # only one outcome left in the last 60 s
    assert sel.state("twilio").penalty == 0


def test_demotion_at_most_once_per_cooldown_and_capped() -> None:
    clock = Clock()
    sel = selector(("twilio", 100), clock=clock, policy=HealthPolicy(min_samples=1, step=40, cooldown_s=60))
    sel.record("twilio", ok=False)
    sel.record("twilio", ok=False)
    assert sel.state("twilio").penalty == 40
    clock.advance(60)
    sel.record("twilio", ok=False)
    assert sel.state("twilio").penalty == 80
    clock.advance(60)
    sel.record("twilio", ok=False)
    clock.advance(60)
    sel.record("twilio", ok=False)
    assert sel.state("twilio").penalty == 100  # max_penalty
    assert sel.state("twilio").demotions == 3


def test_a_demoted_provider_drifts_back_to_its_resting_priority() -> None:
    clock = Clock()
    sel = selector(("twilio", 100), ("zenziva", 90), clock=clock, policy=HealthPolicy(min_samples=1, step=25))
    sel.record("twilio", ok=False)
    sel.record("twilio", ok=False)  # cooldown: still one demotion
    assert names(sel) == ["zenziva", "twilio"]
    clock.advance(299)
    assert names(sel) == ["zenziva", "twilio"]
    clock.advance(1)  # one recovery interval after the demotion
    assert names(sel) == ["twilio", "zenziva"]
    assert sel.state("twilio").penalty == 0


def test_recovery_is_stepwise() -> None:
    clock = Clock()
    policy = HealthPolicy(min_samples=1, step=10, cooldown_s=0, recovery_interval_s=100)
    sel = selector(("twilio", 100), clock=clock, policy=policy)
    for _ in range(3):
        sel.record("twilio", ok=False)
    assert sel.state("twilio").penalty == 30
    clock.advance(250)
    sel.ranked()
    assert sel.state("twilio").penalty == 10
    clock.advance(50)
    sel.ranked()
    assert sel.state("twilio").penalty == 0


def test_unknown_provider_outcomes_are_ignored_and_names_must_be_unique() -> None:
    clock = Clock()
    sel = selector(("twilio", 100), clock=clock)
    sel.record("nobody", ok=False)
    with pytest.raises(ValueError):
        selector(("a", 1), ("a", 2), clock=clock)
    with pytest.raises(ValueError):
        ProviderSelector([])


# ------------------------------------------------------------------ rate limiter


def test_zero_rate_means_no_limit() -> None:
    assert send_limiter(0) is None
    with pytest.raises(ValueError):
        send_limiter(-1)


async def test_a_burst_goes_at_once_then_sends_are_spaced_at_the_rate() -> None:
    limiter = send_limiter(20.0, burst=2)
    assert limiter is not None
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for _ in range(2)))
    assert time.monotonic() - started < 0.04  # the burst
    await asyncio.gather(*(limiter.acquire() for _ in range(5)))
    assert time.monotonic() - started >= 5 / 20 - 0.02


# ------------------------------------------------------------------ from settings


def settings(**values: object) -> NotifySettings:
    base: dict[str, object] = {
        "twilio_account_sid": "AC1",
        "twilio_auth_token": "t",
        "zenziva_userkey": "u",
        "zenziva_passkey": "p",
    }
    return NotifySettings(**{**base, **values})  # type: ignore[arg-type]


def test_providers_from_settings_in_list_order() -> None:
    client = httpx.AsyncClient()
    sel = build_selector(settings(sms_providers="zenziva, twilio", twilio_rate_per_s=3), client)
    assert [(s.name, s.priority) for s in sel.ranked()] == [("zenziva", 100), ("twilio", 90)]
    assert [rate(sel.state(name).limiter) for name in ("twilio", "zenziva")] == [3, 5]

    sel = build_selector(settings(sms_providers="twilio,zenziva", zenziva_priority=150), client)
    assert [s.name for s in sel.ranked()] == ["zenziva", "twilio"]


def rate(limiter: AsyncLimiter | None) -> float:
    assert limiter is not None
    return limiter.max_rate / limiter.time_period


def test_provider_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError):
        settings(sms_providers="twilio,carrier-pigeon")
    with pytest.raises(ValidationError):
        settings(sms_providers=" , ")
    with pytest.raises(ValidationError):
        settings(sms_quiet_hours="late")
    with pytest.raises(ValidationError):
        settings(sms_quiet_hours_tz="Mars/Olympus")
    with pytest.raises(ValueError):
        build_selector(settings(sms_providers="zenziva", zenziva_passkey=""), httpx.AsyncClient())
    monkeypatch.setenv("SMS_PROVIDER", "zenziva")  # the older single-provider variable still works
    assert NotifySettings().provider_names == ("zenziva",)
    monkeypatch.setenv("SMS_PROVIDERS", "twilio,zenziva")
    assert NotifySettings().provider_names == ("twilio", "zenziva")
