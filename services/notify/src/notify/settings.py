"""Notify's settings: environment variables only (names are the field names in upper case).

Providers are listed in priority order in ``SMS_PROVIDERS`` (``twilio``, ``zenziva`` or ``twilio,zenziva``; the
older single ``SMS_PROVIDER`` is still read). Each provider has its own ``<NAME>_*`` settings below: credentials,
base URL, timeout, resting priority and send rate limit. Secrets are ``SecretStr`` and never logged.
"""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator

from mpp_kit.sealing import SealingKeys
from mpp_kit.settings import ServiceSettings

KNOWN_PROVIDERS = ("twilio", "zenziva")
_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _names(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip().lower() for part in value.split(",") if part.strip()))


def parse_quiet_hours(value: str) -> tuple[time, time] | None:
    """``"21:00-07:00"`` -> (21:00, 07:00); empty -> None (quiet hours off)."""
    if not value.strip():
        return None
    match = _QUIET.match(value)
    if not match:
        raise ValueError("SMS_QUIET_HOURS must look like 21:00-07:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError("SMS_QUIET_HOURS hours are 00-23 and minutes 00-59")
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise ValueError("SMS_QUIET_HOURS start and end must differ")
    return start, end


class NotifySettings(ServiceSettings):
    # Opens the applicant's phone number inside events: required (see mpp_kit.sealing.SealingKeys).
    contact_sealing_key: SealingKeys
    service_name: str = "notify"

    # ------------------------------------------------------------------ providers
    # Providers in priority order (first = highest resting priority). Known: twilio, zenziva.
    sms_providers: str = Field(
        default="twilio", validation_alias=AliasChoices("sms_providers", "sms_provider")
    )

    # Twilio Messages API (the sandbox speaks it too).
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")  # also verifies X-Twilio-Signature on status callbacks
    twilio_from: str = "MPP"
    twilio_messaging_service_sid: str = ""
    twilio_timeout_s: float = Field(default=10.0, gt=0)
    twilio_priority: int | None = None  # default: from the position in SMS_PROVIDERS
    twilio_rate_per_s: float = Field(default=10.0, ge=0)  # 0 = no limit
    twilio_burst: int | None = Field(default=None, ge=1)  # default: max(1, rate)

    # Zenziva "SMS Reguler" console API.
    zenziva_base_url: str = "https://console.zenziva.net/reguler"
    zenziva_userkey: str = ""
    zenziva_passkey: SecretStr = SecretStr("")
    zenziva_body_format: str = Field(default="json", pattern="^(json|form)$")
    zenziva_number_format: str = Field(default="national", pattern="^(national|international)$")
    zenziva_timeout_s: float = Field(default=10.0, gt=0)
    zenziva_priority: int | None = None
    zenziva_rate_per_s: float = Field(default=5.0, ge=0)
    zenziva_burst: int | None = Field(default=None, ge=1)

    # Twilio's StatusCallback: our public URL of POST /delivery-reports/twilio; our message id is added as
    # the `reference` query parameter. It is also the URL the X-Twilio-Signature is checked against.
    sms_status_callback_url: str | None = None
    # Bearer token the JSON delivery-report webhook (/delivery-reports) requires. A secret.
    delivery_report_token: SecretStr = SecretStr("")
    # Bearer token of the ops read API (GET /messages...). A secret; empty = the API answers 401 to everyone.
    notify_ops_token: SecretStr = SecretStr("")

    # ------------------------------------------------------------------ sending
    sms_send_attempts: int = Field(default=5, ge=1)  # claims of one message before technical_failure
    sms_retry_base_s: float = Field(default=2.0, gt=0)  # backoff: base * 2**attempt ...
    sms_retry_max_s: float = Field(default=300.0, gt=0)  # ... capped here
    sms_dispatch_interval_s: float = Field(default=0.5, gt=0)
    sms_dispatch_concurrency: int = Field(default=20, ge=1)
    # Sending starts with the first HTTP request served (the server listens: reports of what is sent can
    # arrive), or after this many seconds without one.
    sms_dispatch_start_wait_s: float = Field(default=30.0, ge=0)
    # Unconfirmed messages (the provider call may have reached the provider, nothing confirmed it) are looked up
    # at providers that can be asked, every `interval`, once their call started `after` seconds ago.
    sms_reconcile_interval_s: float = Field(default=30.0, gt=0)
    sms_reconcile_after_s: float = Field(default=120.0, ge=0)

    # Demotion: a provider with at least `min_samples` outcomes in the last `window_s`, of which at least
    # `error_rate` were errors, loses `step` priority points (at most once per `cooldown_s`); every
    # `recovery_interval_s` it wins `step` points back, up to its resting priority.
    sms_demotion_window_s: float = Field(default=60.0, gt=0)
    sms_demotion_min_samples: int = Field(default=5, ge=1)
    sms_demotion_error_rate: float = Field(default=0.5, gt=0, le=1)
    sms_demotion_step: int = Field(default=25, ge=1)
    sms_demotion_cooldown_s: float = Field(default=60.0, ge=0)
    sms_recovery_interval_s: float = Field(default=300.0, gt=0)

    # ------------------------------------------------------------------ sweeps and retention
    sms_sweep_interval_s: float = Field(default=300.0, gt=0)
    sms_created_stuck_after_s: float = Field(default=3600.0, gt=0)  # overdue `created` -> re-armed
    sms_created_max_age_s: float = Field(default=7 * 86400.0, gt=0)  # older `created` -> technical_failure
    sms_stale_after_s: float = Field(default=72 * 3600.0, gt=0)  # `sending`/`sent` -> temporary_failure
    sms_stale_statuses: str = "sending,sent"
    sms_retention_days: float = Field(default=7.0, gt=0)  # phone number and body nulled after this
    # At most this many SMS per phone number in 24 hours, verification codes included; the others are recorded
    # `capped` and not sent (nobody can spend our SMS on one number by submitting for it again and again).
    sms_daily_cap_per_phone: int = Field(default=10, ge=1)
    sms_retention_interval_s: float = Field(default=3600.0, gt=0)

    # ------------------------------------------------------------------ quiet hours (off when empty)
    sms_quiet_hours: str = ""  # e.g. "21:00-07:00": non-urgent SMS wait until the end
    sms_quiet_hours_tz: str = "Asia/Makassar"
    sms_urgent_templates: str = ""  # comma-separated template names sent during quiet hours too

    @field_validator("sms_providers")
    @classmethod
    def _known_providers(cls, value: str) -> str:
        names = _names(value)
        if not names:
            raise ValueError("SMS_PROVIDERS needs at least one provider")
        unknown = [n for n in names if n not in KNOWN_PROVIDERS]
        if unknown:
            raise ValueError(f"unknown SMS providers {unknown}; known: {', '.join(KNOWN_PROVIDERS)}")
        return value

    @field_validator("sms_quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        parse_quiet_hours(value)
        return value

    @field_validator("sms_quiet_hours_tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def provider_names(self) -> tuple[str, ...]:
        return _names(self.sms_providers)

    @property
    def stale_statuses(self) -> tuple[str, ...]:
        return _names(self.sms_stale_statuses)

    @property
    def urgent_templates(self) -> frozenset[str]:
        return frozenset(_names(self.sms_urgent_templates))
