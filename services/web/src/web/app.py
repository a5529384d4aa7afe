"""The web (counter console and public portal): `create_app` builds everything from the settings.

A backend for the browser: it owns the operator accounts and sessions only, and asks the catalogue and each
site's intake over HTTP for everything else. No database, no broker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mpp_kit import http
from mpp_kit.logs import setup_logging
from mpp_kit.telemetry import setup_tracing
from web import api, domain
from web.accounts import LoginThrottle, load_accounts
from web.clients import Catalog, Intake, Refused, SiteDirectory, Unavailable
from web.context import WebContext
from web.pages import FormExpired, LoginRequired, NotAllowed, render
from web.security import IntakeTokens, Sessions
from web.settings import WebSettings

HERE = Path(__file__).parent

# Small pages, no third-party origin, no framing; inline scripts and styles refused (the one script is a file).
SECURITY_HEADERS = {
    b"content-security-policy": b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    b"form-action 'self'; base-uri 'none'",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
}


class SecurityHeaders:
    """Security headers on every answer; `no-store` on the console's pages (they show personal data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = scope["path"].startswith(("/konter", "/masuk", "/lacak", "/ajukan"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in SECURITY_HEADERS]
                headers += list(SECURITY_HEADERS.items())
                if private:
                    headers.append((b"cache-control", b"no-store"))
                elif scope["path"].startswith("/static/"):
                    # A weak signal pays for every byte twice: the style and script are kept for a day.
                    headers.append((b"cache-control", b"public, max-age=86400"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=HERE / "templates")
    env = found.env
    env.filters["status"] = domain.status_label
    env.filters["rupiah"] = domain.rupiah
    env.filters["waktu"] = domain.date_time
    env.filters["jam"] = domain.short_time
    env.filters["tanggal"] = domain.long_date
    env.globals["STATUS_LABELS"] = domain.STATUS_LABELS
    env.globals["CHANNEL_LABELS"] = domain.CHANNEL_LABELS
    env.globals["FORM_LABELS"] = domain.FORM_LABELS
    env.globals["REASON_LABELS"] = domain.REASON_LABELS
    return found


def create_app(
    settings: WebSettings | None = None, *, upstream: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`upstream` replaces the network under the calls to catalog and intake (tests pass fakes of them)."""
    settings = settings or WebSettings()
    setup_logging(settings.service_name, settings.log_level)
    setup_tracing(settings.service_name)
    client = httpx.AsyncClient(
        transport=upstream,
        timeout=settings.upstream_timeout_s,
        event_hooks={"request": [http.inject_trace_context]},
    )
    catalog = Catalog(client, settings.catalog_url.rstrip("/"))
    ctx = WebContext(
        settings=settings,
        http=client,
        templates=templates(),
        accounts=load_accounts(settings),
        sessions=Sessions(settings.session_secret.get_secret_value(), settings.session_ttl_s),
        intake_tokens=IntakeTokens(
            settings.token_signing_key.get_secret_value(),
            settings.token_issuer,
            settings.token_audience,
            settings.token_ttl_s,
        ),
        catalog=catalog,
        intakes={site: Intake(client, site, url) for site, url in settings.intakes().items()},
        sites=SiteDirectory(catalog),
        logins=LoginThrottle(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    async def readiness() -> dict[str, bool]:
        try:
            await ctx.sites.all()
            return {"catalog": True}
        except Unavailable:
            return {"catalog": False}

    app = http.create_app("Mini MPP web", lifespan=lifespan, readiness=readiness, settings=settings)
    app.state.context = ctx
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (api.public, api.login, api.counter):
        app.include_router(router)
    register_error_pages(app)
    return app


def register_error_pages(app: FastAPI) -> None:
    """Errors as pages in Bahasa Indonesia (the kit's JSON error format stays for /healthz, /readyz)."""

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _: Exception) -> Response:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = "/masuk" if request.method != "GET" else f"/masuk?lanjut={quote(back, safe='')}"
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(FormExpired)
    async def _expired(request: Request, _: Exception) -> Response:
        message = "Formulir sudah kedaluwarsa atau tidak berasal dari halaman ini. Buka lagi halamannya, lalu kirim."
        return render(request, "galat.html", 403, title="Formulir kedaluwarsa", message=message)

    @app.exception_handler(NotAllowed)
    async def _not_allowed(request: Request, _: Exception) -> Response:
        message = "Tindakan ini hanya untuk supervisor. Minta supervisor Anda."
        return render(request, "galat.html", 403, title="Tidak diizinkan", message=message)

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, _: Exception) -> Response:
        message = "Layanan sedang tidak dapat dihubungi. Tunggu sebentar, lalu coba lagi."
        response = render(request, "galat.html", 503, title="Sedang gangguan", message=message)
        response.headers["Retry-After"] = "10"
        return response

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        if exc.status == 401:  # the console's token was refused: the session is no longer good
            return RedirectResponse("/masuk", status_code=303)
        if exc.status == 404:
            return render(
                request, "galat.html", 404, title="Tidak ditemukan", message="Halaman ini tidak ada."
            )
        if exc.status == 429:  # intake limits calls per address: say how long to wait, never a 500
            message = domain.too_many_requests(exc.retry_after_s)
            response = render(request, "galat.html", 429, title="Terlalu banyak permintaan", message=message)
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        message = "Permintaan tidak dapat diproses. Periksa kembali, lalu coba lagi."
        return render(request, "galat.html", 400, title="Tidak dapat diproses", message=message)

    @app.exception_handler(RequestValidationError)
    async def _bad_address(request: Request, _: Exception) -> Response:
        message = "Alamat halaman atau isiannya tidak sah. Kembali ke halaman sebelumnya."
        return render(request, "galat.html", 422, title="Tidak dapat diproses", message=message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path in ("/healthz", "/readyz", "/metrics"):
            return Response(status_code=exc.status_code)
        titles = {404: "Tidak ditemukan", 405: "Tidak dapat diproses", 413: "Terlalu besar"}
        title = titles.get(exc.status_code, "Tidak dapat diproses")
        response = render(
            request, "galat.html", exc.status_code, title=title, message="Periksa alamat halaman."
        )
        response.headers.update(exc.headers or {})
        return response
