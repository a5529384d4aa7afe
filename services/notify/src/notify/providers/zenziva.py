"""Zenziva (Indonesian SMS aggregator) adapter, "SMS Reguler" console API.

Request: ``POST {base_url}/api/sendsms/`` with ``userkey``, ``passkey``, ``to`` and ``message``, as JSON or
as a form (production base URL ``https://console.zenziva.net/reguler``; the masking product has its own base
URL). Answer: ``{"messageId": "...", "to": "...", "status": "1", "text": "Success"}``; ``status: "0"`` with
the reason in ``text`` when refused (e.g. "Userkey / Passkey Salah"). Zenziva's documentation (zenziva.id/
dokumentasi) is not machine-readable; the shapes here follow public clients (mul14/zenziva.js,
ziswapp/zenziva-sms).

Our reference: Zenziva takes no client reference and we found no documented delivery-report webhook, so a
message sent through Zenziva ends at ``sent`` (accepted, no report expected) unless something reports on its
``messageId``; keep that id with the message so a report can still be matched.
"""

from __future__ import annotations

from typing import Literal

import httpx

from mpp_kit.phone import to_national
from notify.providers.base import (
    SendResult,
    TemporaryProviderError,
    as_text,
    json_object,
    parse_retry_after,
    post,
)
from notify.providers.mapping import map_zenziva_error

__all__ = ["ZenzivaProvider"]

DEFAULT_BASE_URL = "https://console.zenziva.net/reguler"


class ZenzivaProvider:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        userkey: str,
        passkey: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        body_format: Literal["json", "form"] = "json",
        number_format: Literal["national", "international"] = "national",
        name: str = "zenziva",
    ) -> None:
        if not userkey or not passkey:
            raise ValueError("Zenziva needs a userkey and a passkey")
        self._client = client
        self._userkey = userkey
        self._passkey = passkey
        self._url = f"{base_url.rstrip('/')}/api/sendsms/"
        self._timeout = httpx.Timeout(timeout)
        self._body_format = body_format
        self._number_format = number_format
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def build_payload(self, to_e164: str, body: str) -> dict[str, str]:
        # Zenziva's examples use the national 08... form; 62... (no plus) is the alternative it echoes back.
        to = to_national(to_e164) if self._number_format == "national" else to_e164.lstrip("+")
        return {"userkey": self._userkey, "passkey": self._passkey, "to": to, "message": body}

    async def send(self, message_id: str, to_e164: str, body: str) -> SendResult:
        # message_id is unused on the wire: Zenziva has no field for a client reference (see module doc).
        payload = self.build_payload(to_e164, body)
        body_kwargs = {"json": payload} if self._body_format == "json" else {"data": payload}
        response = await post(
            self._client,
            self.name,
            self._url,
            headers={"Accept": "application/json"},
            timeout=self._timeout,
            **body_kwargs,
        )
        return self._interpret(response)

    def _interpret(self, response: httpx.Response) -> SendResult:
        status_code = response.status_code
        if status_code == 429 or status_code >= 500:
            raise TemporaryProviderError(
                self.name,
                f"http_{status_code}",
                response.reason_phrase,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        data = json_object(response) or {}
        zstatus = str(data.get("status", "")).strip()
        text = as_text(data.get("text")) or ""
        if 200 <= status_code < 300 and zstatus == "1":
            # No delivery report will come from Zenziva: "sent" is the expected final state.
            return SendResult.ok(as_text(data.get("messageId")), "sent")
        if zstatus == "0" or text:
            code, ours = map_zenziva_error(text)
            return SendResult.refused(ours, code, text or None)
        if 200 <= status_code < 300:
            raise TemporaryProviderError(
                self.name, "unreadable_response", f"HTTP {status_code} without a status", maybe_accepted=True
            )
        if status_code in (401, 403):
            return SendResult.refused("technical_failure", "auth", f"HTTP {status_code}")
        return SendResult.refused("permanent_failure", f"http_{status_code}", response.reason_phrase)
