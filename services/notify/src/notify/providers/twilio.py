"""Twilio Programmable Messaging adapter (REST API 2010-04-01, Message resource "create").

Request (twilio.com/docs/messaging/api/message-resource#create-a-message-resource):
``POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json``, HTTP Basic auth ``AccountSid:AuthToken``,
form-encoded ``To`` (E.164), ``Body``, and ``From`` or ``MessagingServiceSid``; ``StatusCallback`` is the URL
Twilio posts status changes to.

Our reference: Twilio has no client reference field, its own id is the ``sid`` it returns. We put our message
id into the ``StatusCallback`` URL as the ``reference`` query parameter, so every status callback names our
message even if it arrives before the create response was stored.

Answer: 201 with the Message JSON (``sid``, ``status`` queued/accepted...). Errors are JSON
``{"code": 21211, "message": "...", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}``
(twilio.com/docs/usage/twilios-response). 429 (error 20429) is "never processed and always safe to retry"
(twilio.com/docs/api/errors/20429).

Lookup of a message whose send answer was lost (``look_up``): Message resource "read",
``GET .../Messages.json?To=<number>&PageSize=50`` (twilio.com/docs/messaging/api/message-resource#read-multiple-
message-resources), pages followed through ``next_page_uri``. Twilio keeps neither our reference nor the
StatusCallback URL on the resource, so our message is the one to that number with exactly our body created no
earlier than the call started (less a clock margin), whose ``sid`` no other message of ours holds (checked by
the caller). A complete listing without it means Twilio does not have it; anything short of a complete listing
(an error, more pages than we read) means we cannot tell.

Status callbacks: Twilio posts form-encoded ``MessageSid``, ``MessageStatus``, ``ErrorCode``... to the
StatusCallback URL, signed in ``X-Twilio-Signature``: base64 of HMAC-SHA1, keyed with the auth token, over the
full URL (query string included) followed by every POST parameter name and value, sorted by name
(twilio.com/docs/usage/webhooks/webhooks-security). ``signature`` and ``valid_signature`` implement it; a
test checks Twilio's published example.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from notify.providers.base import (
    SendResult,
    TemporaryProviderError,
    as_int,
    as_text,
    get,
    json_object,
    parse_retry_after,
    post,
)
from notify.providers.mapping import map_twilio_error, map_twilio_status

__all__ = [
    "REFERENCE_PARAM",
    "SIGNATURE_HEADER",
    "TwilioProvider",
    "signature",
    "valid_signature",
    "with_reference",
]

REFERENCE_PARAM = "reference"
SIGNATURE_HEADER = "X-Twilio-Signature"
DEFAULT_BASE_URL = "https://api.twilio.com"
_DEFAULT_PORTS = {"https": 443, "http": 80}
# Lookups: how far our clock and Twilio's may disagree, and how much of a number's history we read at most.
_CLOCK_MARGIN = timedelta(minutes=5)
_LOOKUP_PAGE_SIZE, _LOOKUP_MAX_PAGES = 50, 5


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's request signature for a form POST to ``url`` with ``params`` (repeated names allowed)."""
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    # Names sorted; the values of a repeated name sorted and de-duplicated (as Twilio's own validators do).
    data = url + "".join(name + value for name in sorted(grouped) for value in sorted(set(grouped[name])))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_variants(url: str) -> list[str]:
    """``url`` as given, plus the same with its default port added or removed (Twilio may sign either)."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    if default is None or parts.hostname is None or "@" in parts.netloc:
        return [url]
    host = parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc
    if parts.port is None:
        return [url, urlunsplit(parts._replace(netloc=f"{host}:{default}"))]
    if parts.port == default:
        return [url, urlunsplit(parts._replace(netloc=host))]
    return [url]


def valid_signature(
    auth_token: str, urls: Iterable[str], params: Iterable[tuple[str, str]], received: str | None
) -> bool:
    """True when ``received`` is Twilio's signature of the POST to one of ``urls`` (in constant time)."""
    if not auth_token or not received:
        return False
    items = list(params)
    candidates = [variant for url in urls for variant in _port_variants(url)]
    return any(
        hmac.compare_digest(signature(auth_token, url, items).encode(), received.encode())
        for url in candidates
    )


def with_reference(url: str, message_id: str) -> str:
    """``url`` with ``reference=<message_id>`` added to (or replaced in) its query string."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != REFERENCE_PARAM]
    query.append((REFERENCE_PARAM, message_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


class TwilioProvider:
    """Sends through Twilio (or anything speaking its Messages API, like our sandbox)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        account_sid: str,
        auth_token: str,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback_url: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        name: str = "twilio",
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("Twilio needs an account SID and an auth token")
        if not from_ and not messaging_service_sid:
            raise ValueError("Twilio needs a From sender or a MessagingServiceSid")
        self._client = client
        self._account_sid = account_sid
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._from = from_
        self._messaging_service_sid = messaging_service_sid
        self._status_callback_url = status_callback_url
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        # 10 s as GOV.UK Notify uses for its providers (notifications-api clients/sms).
        self._timeout = httpx.Timeout(timeout)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def build_form(self, message_id: str, to_e164: str, body: str) -> dict[str, str]:
        form = {"To": to_e164, "Body": body}
        # MessagingServiceSid wins when both are set: Twilio then picks the sender from the service's pool.
        if self._messaging_service_sid:
            form["MessagingServiceSid"] = self._messaging_service_sid
        elif self._from:
            form["From"] = self._from
        if self._status_callback_url:
            form["StatusCallback"] = with_reference(self._status_callback_url, message_id)
        return form

    async def send(self, message_id: str, to_e164: str, body: str) -> SendResult:
        form = self.build_form(message_id, to_e164, body)
        response = await post(
            self._client,
            self.name,
            self._url,
            data=form,
            auth=self._auth,
            headers={"Accept": "application/json"},
            timeout=self._timeout,
        )
        return self._interpret(response)

    async def look_up(self, message_id: str, to_e164: str, body: str, since: datetime) -> SendResult | None:
        url: str | None = self._url
        params: dict[str, str] | None = {"To": to_e164, "PageSize": str(_LOOKUP_PAGE_SIZE)}
        origin = self._url.split("/2010-04-01/", 1)[0]
        for _ in range(_LOOKUP_MAX_PAGES):
            assert url is not None
            response = await get(
                self._client,
                self.name,
                url,
                params=params,
                auth=self._auth,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
            payload = json_object(response) if response.status_code == 200 else None
            listed = payload.get("messages") if payload else None
            if payload is None or not isinstance(listed, list):
                raise TemporaryProviderError(self.name, "lookup_unanswered", f"HTTP {response.status_code}")
            for resource in listed:
                if isinstance(resource, dict) and _is_ours(resource, body, since):
                    return self._interpret_resource(resource, 200)
            next_page = as_text(payload.get("next_page_uri"))
            if next_page is None:
                return None  # the whole listing, and not there
            url, params = origin + next_page, None
        raise TemporaryProviderError(self.name, "lookup_incomplete", f"more than {_LOOKUP_MAX_PAGES} pages")

    def _interpret(self, response: httpx.Response) -> SendResult:
        status_code = response.status_code
        payload = json_object(response) or {}
        if status_code == 429 or status_code >= 500:
            code = payload.get("code")
            raise TemporaryProviderError(
                self.name,
                str(code) if code is not None else f"http_{status_code}",
                as_text(payload.get("message")),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if 200 <= status_code < 300:
            return self._interpret_resource(payload, status_code)
        # Any other status: Twilio refused the request. Its JSON error names the reason.
        code = as_int(payload.get("code"))
        ours, reason = map_twilio_error(code, status_code)
        message = as_text(payload.get("message"))
        return SendResult.refused(
            ours, str(code) if code is not None else f"http_{status_code}", message or reason
        )

    def _interpret_resource(self, payload: dict[str, Any], status_code: int) -> SendResult:
        """A Message resource (the create answer, or one found by a lookup)."""
        sid = as_text(payload.get("sid"))
        if not sid:
            # It said yes but we cannot tell what to: the message may exist at Twilio.
            raise TemporaryProviderError(
                self.name, "unreadable_response", f"HTTP {status_code} without a sid", maybe_accepted=True
            )
        twilio_status = as_text(payload.get("status")) or "queued"
        error_code = as_int(payload.get("error_code"))
        ours = map_twilio_status(twilio_status, error_code)
        if ours in ("sending", "sent", "delivered"):
            return SendResult.ok(sid, ours)
        # Created but already failed (rare: Twilio validated after accepting the request).
        refused = SendResult.refused(
            ours, str(error_code) if error_code else twilio_status, as_text(payload.get("error_message"))
        )
        return SendResult(False, sid, refused.permanent, refused.error_code, refused.detail, refused.status)


def _is_ours(resource: dict[str, Any], body: str, since: datetime) -> bool:
    if resource.get("body") != body or resource.get("direction", "outbound-api") != "outbound-api":
        return False
    created = as_text(resource.get("date_created"))
    try:
        at = parsedate_to_datetime(created) if created else None
    except (TypeError, ValueError):
        at = None
    # Without a readable date we cannot rule it out: the same text sent earlier would match, so we say it is
    # there (the message is then not sent again: never twice, at worst once too few).
    return at is None or at >= since - _CLOCK_MARGIN
