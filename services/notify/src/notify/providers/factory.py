"""The provider adapters named in ``SMS_PROVIDERS``, built from their settings, in priority order."""

from __future__ import annotations

from typing import Literal, cast

import httpx
from aiolimiter import AsyncLimiter

from notify.providers.base import SmsProvider
from notify.providers.selection import HealthPolicy, ProviderSelector, send_limiter
from notify.providers.twilio import TwilioProvider
from notify.providers.zenziva import ZenzivaProvider
from notify.settings import NotifySettings

__all__ = ["build_provider", "build_selector"]

# Resting priorities when none is configured: 100 for the first provider, 90 for the second, ...
_TOP_PRIORITY, _PRIORITY_GAP = 100, 10


def build_provider(name: str, settings: NotifySettings, client: httpx.AsyncClient) -> SmsProvider:
    if name == "twilio":
        return TwilioProvider(
            client,
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            from_=settings.twilio_from or None,
            messaging_service_sid=settings.twilio_messaging_service_sid or None,
            status_callback_url=settings.sms_status_callback_url,
            base_url=settings.twilio_base_url,
            timeout=settings.twilio_timeout_s,
        )
    if name == "zenziva":
        return ZenzivaProvider(
            client,
            userkey=settings.zenziva_userkey,
            passkey=settings.zenziva_passkey.get_secret_value(),
            base_url=settings.zenziva_base_url,
            timeout=settings.zenziva_timeout_s,
            body_format=cast(Literal["json", "form"], settings.zenziva_body_format),
            number_format=cast(Literal["national", "international"], settings.zenziva_number_format),
        )
    raise ValueError(f"unknown SMS provider {name!r}")


def build_selector(settings: NotifySettings, client: httpx.AsyncClient) -> ProviderSelector:
    entries: list[tuple[SmsProvider, int, AsyncLimiter | None]] = []
    for index, name in enumerate(settings.provider_names):
        configured: int | None = getattr(settings, f"{name}_priority")
        rate: float = getattr(settings, f"{name}_rate_per_s")
        burst: int | None = getattr(settings, f"{name}_burst")
        priority = configured if configured is not None else _TOP_PRIORITY - _PRIORITY_GAP * index
        entries.append((build_provider(name, settings, client), priority, send_limiter(rate, burst)))
    policy = HealthPolicy(
        window_s=settings.sms_demotion_window_s,
        min_samples=settings.sms_demotion_min_samples,
        error_rate=settings.sms_demotion_error_rate,
        step=settings.sms_demotion_step,
        cooldown_s=settings.sms_demotion_cooldown_s,
        recovery_interval_s=settings.sms_recovery_interval_s,
    )
    return ProviderSelector(entries, policy)
