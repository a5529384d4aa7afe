"""Calls to the catalogue and to each site's intake over HTTP. The web keeps no copy of their data.

Every failure comes back as one of two exceptions the pages know how to show: `Refused` (the service answered
4xx: bad input, not found, a conflict, too many requests) and `Unavailable` (no answer, or 5xx).

Intake limits anonymous calls (online submit, code check, new code, tracking) per client address; the web calls
it from its own address, so these calls name the person's address in `X-Forwarded-For` (intake believes it only
from the web's addresses, its TRUSTED_PROXY_CIDRS).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx


@dataclass
class Refused(Exception):
    status: int
    code: str
    fields: list[dict[str, Any]] = field(default_factory=list)
    retry_after_s: int = 0  # a 429's Retry-After: when the caller may try again


def _retry_after(response: httpx.Response) -> int:
    try:
        return max(1, int(response.headers.get("retry-after", "")))
    except ValueError:
        return 60  # a 429 without a usable Retry-After (seconds): a minute is a safe guess


class Unavailable(Exception):
    """The catalogue or a site's intake did not answer in time, or answered 5xx."""


async def _call(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise Unavailable(str(exc)) from exc
    if response.status_code >= 500:
        raise Unavailable(f"{method} {url}: {response.status_code}")
    if response.status_code >= 400:
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        raise Refused(
            response.status_code,
            str(error.get("code", "")),
            list(error.get("fields", [])),
            _retry_after(response) if response.status_code == 429 else 0,
        )
    return response.json() if response.content else None


@dataclass(frozen=True)
class Catalog:
    client: httpx.AsyncClient
    base_url: str

    async def search(self, q: str, *, site: str | None = None, limit: int = 20) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if q.strip():
            params["q"] = q.strip()[:100]
        if site:
            params["site"] = site
        found: dict[str, Any] = await _call(self.client, "GET", f"{self.base_url}/services", params=params)
        return found

    async def service(self, code: str) -> dict[str, Any]:
        found: dict[str, Any] = await _call(self.client, "GET", f"{self.base_url}/services/{quote(code)}")
        return found

    async def sites(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await _call(self.client, "GET", f"{self.base_url}/sites")
        return found


@dataclass(frozen=True)
class Intake:
    """One site's intake. Operator calls carry the operator's signed token."""

    client: httpx.AsyncClient
    site: str
    base_url: str

    async def submit(
        self,
        body: dict[str, Any],
        idempotency_key: str,
        *,
        token: str | None = None,
        client: str | None = None,
    ) -> dict[str, Any]:
        """At the counter `token` is the operator's (intake requires it); online there is none and `client` is
        the applicant's address."""
        headers = {"Idempotency-Key": idempotency_key, **_bearer(token), **_forwarded(client)}
        found: dict[str, Any] = await _call(
            self.client, "POST", f"{self.base_url}/applications", json=body, headers=headers
        )
        return found

    async def verify(self, application_id: str, code: str, *, client: str | None) -> dict[str, Any]:
        """The code texted to an online applicant: the application goes from `awaiting_verification` on."""
        found: dict[str, Any] = await _call(
            self.client,
            "POST",
            f"{self.base_url}/applications/{quote(application_id)}/verify",
            json={"code": code},
            headers=_forwarded(client),
        )
        return found

    async def resend_code(self, application_id: str, *, client: str | None) -> dict[str, Any]:
        """A new code texted to an online applicant (the one sent before stops working)."""
        found: dict[str, Any] = await _call(
            self.client,
            "POST",
            f"{self.base_url}/applications/{quote(application_id)}/verification/resend",
            headers=_forwarded(client),
        )
        return found

    async def track(self, tracking_code: str, phone_last4: str, *, client: str | None) -> dict[str, Any]:
        # In the body: the phone digits stay out of URLs and their logs.
        found: dict[str, Any] = await _call(
            self.client,
            "POST",
            f"{self.base_url}/applications/track",
            json={"tracking_code": tracking_code, "phone_last4": phone_last4},
            headers=_forwarded(client),
        )
        return found

    async def answer_survey(
        self, tracking_code: str, phone_last4: str, body: dict[str, Any], *, client: str | None
    ) -> dict[str, Any]:
        """The satisfaction survey, proven like tracking (the digits in the body, never the URL)."""
        found: dict[str, Any] = await _call(
            self.client,
            "POST",
            f"{self.base_url}/applications/track/survey",
            json={"tracking_code": tracking_code, "phone_last4": phone_last4, **body},
            headers=_forwarded(client),
        )
        return found

    async def operator_get(self, token: str, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return await _call(self.client, "GET", f"{self.base_url}{path}", params=query, headers=_bearer(token))

    async def operator_post(self, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return await _call(self.client, "POST", f"{self.base_url}{path}", json=body, headers=_bearer(token))


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _forwarded(client: str | None) -> dict[str, str]:
    """Only the address the web itself took as the client's (never a header the client sent: it could say
    anything)."""
    return {"X-Forwarded-For": client} if client else {}


DEFAULT_TIME_ZONE = "Asia/Makassar"


@dataclass
class SiteDirectory:
    """The catalogue's sites (names, kinds, time zones), fetched at most once a minute: every page names some.
    When the catalogue does not answer, the last list known is used."""

    catalog: Catalog
    ttl_s: float = 60.0
    _sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    _fetched_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def all(self) -> dict[str, dict[str, Any]]:
        if self._sites and time.monotonic() - self._fetched_at < self.ttl_s:
            return self._sites
        async with self._lock:
            if not self._sites or time.monotonic() - self._fetched_at >= self.ttl_s:
                try:
                    self._sites = {s["slug"]: s for s in await self.catalog.sites()}
                    self._fetched_at = time.monotonic()
                except Unavailable:
                    if not self._sites:
                        raise
        return self._sites

    async def get(self, slug: str) -> dict[str, Any]:
        """The site, or a stand-in naming it by its slug (a site the catalogue no longer lists)."""
        return (await self.all()).get(slug) or {"slug": slug, "name": slug, "kind": "mini"}

    def known(self, slug: str) -> dict[str, Any] | None:
        """The site as last fetched, without waiting (None before the first fetch)."""
        return self._sites.get(slug)

    async def time_zone(self, slug: str) -> str:
        return str((await self.get(slug)).get("timezone") or DEFAULT_TIME_ZONE)
