"""The contract every SMS provider adapter keeps.

``send`` answers with a ``SendResult`` for everything the provider *said* (accepted, or refused with a code),
and raises ``TemporaryProviderError`` only when it said nothing usable: a timeout, a connection failure, an
HTTP 429 or 5xx, or a 2xx body we cannot read. That split is the one courier and GOV.UK Notify use
(nyaruka/courier ``ErrConnectionFailed`` vs ``ErrResponseStatus``; notifications-api ``clients/sms``):
timeouts and 5xx are retryable, other 4xx are final for this message.

One refinement over "every other 4xx is permanent": a refusal that is our fault (bad credentials, no balance,
sender not configured) is *not* marked permanent, because the recipient is fine and another provider (or the
same one once fixed) can deliver it; ``status`` is then ``technical_failure``. Marking those permanent would
silently drop every citizen's SMS during a credential rotation.

Adapters put our own message id where the provider lets them, so that delivery reports map back without a
lookup by the provider's id (and without the race where a report arrives before that id is stored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import httpx

from mpp_contracts.notify import SmsStatus

__all__ = ["LooksUp", "SendResult", "SmsProvider", "TemporaryProviderError", "redact"]

# A phone number or any long digit run, so that provider error texts ("The 'To' number +62812... is not
# valid") never carry the recipient into our logs or database.
_DIGITS = re.compile(r"\+?\d[\d\s\-.]{5,}\d")


def redact(text: str | None, limit: int = 300) -> str | None:
    """Provider text made safe to store and log: long digit runs masked, length bounded."""
    if text is None:
        return None
    return _DIGITS.sub("[redacted]", text)[:limit]


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said about one submission.

    ``accepted``: the provider took the message (``provider_message_id`` is its id when it gave one).
    ``permanent``: refused for good (bad number, blocked content); do not retry this message anywhere.
    Not accepted and not permanent: refused for a reason on our or the provider's side; retry later or fail
    over. ``status`` is our status for this outcome (``sending``/``sent`` when accepted, else a failure).
    ``detail`` is already redacted (no phone numbers).
    """

    accepted: bool
    provider_message_id: str | None
    permanent: bool
    error_code: str | None
    detail: str | None
    status: SmsStatus = "sending"

    @classmethod
    def ok(cls, provider_message_id: str | None, status: SmsStatus = "sending") -> SendResult:
        return cls(True, provider_message_id, False, None, None, status)

    @classmethod
    def refused(cls, status: SmsStatus, error_code: str | None, detail: str | None) -> SendResult:
        return cls(False, None, status == "permanent_failure", error_code, redact(detail), status)


class TemporaryProviderError(Exception):
    """The provider gave no usable answer; the message may be retried (with a bounded backoff).

    ``maybe_accepted`` is True when the request may have reached the provider (a read timeout, a dropped
    connection after sending, an unreadable 2xx): a blind retry could then send the SMS twice
    (alphagov/notifications-api#802), so the caller should prefer the same provider and reference, or wait
    for a delivery report, before failing over.
    """

    def __init__(
        self,
        provider: str,
        error_code: str,
        detail: str | None = None,
        *,
        maybe_accepted: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.error_code = error_code
        self.detail = redact(detail)
        self.maybe_accepted = maybe_accepted
        self.retry_after = retry_after
        super().__init__(f"{provider}: {error_code}" + (f" ({self.detail})" if self.detail else ""))


@runtime_checkable
class SmsProvider(Protocol):
    """An SMS provider adapter. ``name`` is stable (stored with every message, used in metrics)."""

    @property
    def name(self) -> str: ...

    async def send(self, message_id: str, to_e164: str, body: str) -> SendResult:
        """Submit one SMS. ``message_id`` is our id (a UUID), ``to_e164`` like ``+6281234567890``, ``body``
        already sanitised GSM-7 text."""
        ...


@runtime_checkable
class LooksUp(Protocol):
    """A provider that can be asked what became of a message whose send answer was lost."""

    @property
    def name(self) -> str: ...

    async def look_up(self, message_id: str, to_e164: str, body: str, since: datetime) -> SendResult | None:
        """What the provider holds for our message ``message_id`` (to ``to_e164`` with ``body``, submitted no
        earlier than ``since``): a ``SendResult`` as if it were the send answer when it has it, None when it
        certainly does not. Raises ``TemporaryProviderError`` when it cannot tell."""
        ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header in its delta-seconds form; dates are ignored."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def as_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


async def post(client: httpx.AsyncClient, provider: str, url: str, **kwargs: Any) -> httpx.Response:
    """``client.post`` with transport failures turned into ``TemporaryProviderError``.

    A failure to connect means the provider never saw the request; a timeout or a broken connection after
    the request went out means it may have (``maybe_accepted``).
    """
    try:
        return await client.post(url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise TemporaryProviderError(provider, "connect_failed", type(exc).__name__) from exc
    except httpx.TimeoutException as exc:
        raise TemporaryProviderError(provider, "timeout", type(exc).__name__, maybe_accepted=True) from exc
    except httpx.TransportError as exc:
        raise TemporaryProviderError(
            provider, "transport_error", type(exc).__name__, maybe_accepted=True
        ) from exc


async def get(client: httpx.AsyncClient, provider: str, url: str, **kwargs: Any) -> httpx.Response:
    """``client.get`` with every transport failure turned into ``TemporaryProviderError`` (a read changes
    nothing at the provider, so there is no "maybe accepted" here)."""
    try:
        return await client.get(url, **kwargs)
    except httpx.HTTPError as exc:
        raise TemporaryProviderError(provider, "lookup_failed", type(exc).__name__) from exc
