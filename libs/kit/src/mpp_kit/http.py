"""The HTTP side every service shares: error format, body limit, tracing, /healthz, /readyz, /metrics.

Two settings of `ServiceSettings` shape what the public sees:
- `TRUST_INBOUND_TRACEPARENT` (false): a `traceparent` sent by a client from the internet does not choose our
  trace ids; the request starts a new trace and keeps the caller's span as a link. Our own callers (the web BFF)
  may be trusted with `true`.
- `INTERNAL_PORT` (unset): when set, `/metrics`, `/docs` and `/openapi.json` are served on that port only, by a
  second server started with the app (`INTERNAL_HOST`, default the HTTP host), and the public app does not expose
  them. `/healthz` and `/readyz` are on both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.telemetry import TelemetryConfig
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mpp_kit.errors import ApiError, ErrorBody, ErrorResponse, FieldProblem, field_path
from mpp_kit.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS
from mpp_kit.models import NUL_REASON
from mpp_kit.outage import OUTAGE_TYPES, is_outage
from mpp_kit.settings import ServiceSettings

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]

OUTAGE_RETRY_AFTER_S = 5


# FastAPI's own OpenTelemetry (0.165+) turns itself on when a tracer provider is installed, as every service does:
# a second server span per request that continues any caller's traceparent (TRUST_INBOUND_TRACEPARENT is ours to
# decide) and records the raw path and query string (a name searched for, a tracking code). TracingMiddleware is
# the one span per request.
NO_FASTAPI_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

C = TypeVar("C")


def app_context(kind: type[C]) -> Callable[[Request], Awaitable[C]]:
    """A dependency answering the service's context (`app.state.context`, a `kind`). `async def`: FastAPI runs a
    plain `def` dependency in its thread pool, a thread hop per request for what only reads an attribute."""

    async def context(request: Request) -> C:
        return cast(C, request.app.state.context)

    return context


def _outage_response() -> JSONResponse:
    response = _error(
        503,
        "dependency_unavailable",
        "a part this service stands on (database or broker) does not answer; retry later",
    )
    response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_S)
    return response


def _error(status: int, code: str, message: str, fields: list[FieldProblem] | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, fields=fields or []))
    return JSONResponse(body.model_dump(), status_code=status)


class _BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the limit. An HTTPException, so FastAPI's body parsing
    and a route reading the raw body both let it through to the 413 handler (a plain exception became 400 in
    the one and 500 in the other)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body is larger than {max_bytes} bytes")


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._too_large()(scope, receive, send)

    def _too_large(self) -> JSONResponse:
        return _error(
            413,
            "body_too_large",
            f"request body is larger than {self.max_bytes} bytes",
            [FieldProblem(field="body", reason=f"at most {self.max_bytes} bytes")],
        )


class NulRefusalMiddleware:
    """422 for a NUL character in the path or the query string: PostgreSQL text cannot hold it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            field = None
            if "\x00" in scope.get("path", ""):
                field = "path"
            else:
                for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), True):
                    if "\x00" in name or "\x00" in value:
                        field = name.replace("\x00", "") or "query"
                        break
            if field is not None:
                refused = _error(
                    422,
                    "validation_failed",
                    "some fields are missing or invalid",
                    [FieldProblem(field=field, reason=NUL_REASON)],
                )
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


class TracingMiddleware:
    """One server span per request, named by the route template, and the request counter and latency histogram
    of /metrics, labelled by it too. A caller's traceparent is continued only when `trust_inbound_traceparent`;
    otherwise the request starts a new trace, linked to the caller's span. Plain ASGI: Starlette's
    BaseHTTPMiddleware wraps `receive` in a task group, which turned a streamed body over the limit into an
    exception group and a 500."""

    def __init__(self, app: ASGIApp, trust_inbound_traceparent: bool = False) -> None:
        self.app = app
        self.trust_inbound_traceparent = trust_inbound_traceparent

    def _parent_and_links(self, headers: dict[str, str]) -> tuple[otel_context.Context, list[trace.Link]]:
        inbound = propagate.extract(headers)
        if self.trust_inbound_traceparent:
            return inbound, []
        caller = trace.get_current_span(inbound).get_span_context()
        # An empty context: a new trace whatever the caller sent (no baggage from outside either).
        return otel_context.Context(), [trace.Link(caller)] if caller.is_valid else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = _method(scope["method"])
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()
        parent, links = self._parent_and_links(headers)
        token = otel_context.attach(parent)
        try:
            with tracer.start_as_current_span(method, kind=trace.SpanKind.SERVER, links=links) as span:

                async def traced_send(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                        span.set_attribute("http.response.status_code", status)
                        carrier: dict[str, str] = {}
                        propagate.inject(carrier)
                        if "traceparent" in carrier:
                            message = {
                                **message,
                                "headers": [
                                    *message.get("headers", []),
                                    (b"traceparent", carrier["traceparent"].encode()),
                                ],
                            }
                    await send(message)

                try:
                    await self.app(scope, receive, traced_send)
                finally:
                    # The route template, never the raw path: paths carry tracking codes.
                    span.update_name(f"{method} {_route(scope)}")
        finally:
            otel_context.detach(token)
            route = _route(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_REQUEST_DURATION.labels(method, route).observe(time.perf_counter() - started)


def _allowed_methods(request: Request) -> str:
    """Every method the path answers to: Starlette's own Allow names only the first route matching the path
    (PATCH /admin/services/X said `Allow: PUT` although DELETE is there too). Asked of the routes one method at
    a time, since included routers do not expose their routes' methods."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in sorted(_METHODS)
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]
    return ", ".join(allowed)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method(method: str) -> str:
    return method if method in _METHODS else "OTHER"  # a label may not take any value a client sends


def _route(scope: Scope) -> str:
    return getattr(scope.get("route"), "path", "unmatched")


def create_app(
    title: str,
    *,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    readiness: ReadinessCheck,
    settings: ServiceSettings | None = None,
    max_body_bytes: int | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    """The service's public app. `settings` gives the body limit (`HTTP_MAX_BODY_BYTES`, unless `max_body_bytes`
    is given), `TRUST_INBOUND_TRACEPARENT` and `INTERNAL_PORT`; without them: 64 KiB, not trusted, no port."""
    limit = max_body_bytes or (settings.http_max_body_bytes if settings else 64 * 1024)
    internal_port = settings.internal_port if settings else None
    if settings is not None and internal_port is not None:
        host = settings.internal_host or settings.http_host
        lifespan = _with_internal_server(lifespan, host, internal_port, readiness)
        app = FastAPI(
            title=title,
            version=version,
            lifespan=lifespan,
            openapi_url=None,
            docs_url=None,
            redoc_url=None,
            telemetry=NO_FASTAPI_TELEMETRY,
        )
    else:
        app = FastAPI(title=title, version=version, lifespan=lifespan, telemetry=NO_FASTAPI_TELEMETRY)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body.model_dump(), status_code=exc.status, headers=exc.headers or None)

    @app.exception_handler(asyncpg.CharacterNotInRepertoireError)
    @app.exception_handler(asyncpg.UntranslatableCharacterError)
    async def _unstorable_text(_: Request, exc: Exception) -> JSONResponse:
        # A safety net behind ApiModel and NulRefusalMiddleware: text PostgreSQL cannot store is bad input.
        return _error(
            422,
            "validation_failed",
            "the request contains text that cannot be stored",
            [FieldProblem(field="body", reason=NUL_REASON)],
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            reason = next(
                str(e.get("ctx", {}).get("error", e.get("msg")))
                for e in errors
                if e["type"] == "json_invalid"
            )
            return _error(
                400,
                "malformed_json",
                "the request body is not valid JSON",
                [FieldProblem(field="body", reason=reason)],
            )
        fields = [FieldProblem(field=field_path(e.get("loc", ())), reason=str(e.get("msg"))) for e in errors]
        return _error(422, "validation_failed", "some fields are missing or invalid", fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            413: "body_too_large",
            415: "unsupported_media_type",
        }
        fields = [FieldProblem(field="body", reason=str(exc.detail))] if exc.status_code == 413 else None
        response = _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail), fields)
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = _allowed_methods(request)
        return response

    async def _outage(_: Request, exc: Exception) -> JSONResponse:
        if not is_outage(exc):
            raise exc  # same class, not an outage (a programming error): the 500 handler below answers
        log.warning("dependency unavailable; answered 503", extra={"error_type": type(exc).__name__})
        return _outage_response()

    # Handled in the app (not the last-resort handler), so the request metrics see the 503 and not a 500.
    for outage_type in OUTAGE_TYPES:
        app.add_exception_handler(outage_type, _outage)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        if is_outage(exc):  # an outage wrapped in another exception (`raise ... from`)
            log.warning("dependency unavailable; answered 503", extra={"error_type": type(exc).__name__})
            return _outage_response()
        log.exception("unhandled error")
        return _error(500, "internal_error", "an unexpected error occurred; it has been logged")

    app.add_middleware(
        TracingMiddleware, trust_inbound_traceparent=settings.trust_inbound_traceparent if settings else False
    )
    app.add_middleware(NulRefusalMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=limit)

    _add_probes(app, readiness)
    if internal_port is None:
        _add_metrics(app)
    return app


def _add_probes(app: FastAPI, readiness: ReadinessCheck) -> None:
    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """The process is alive and serving HTTP."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"model": dict[str, Any]}})
    async def readyz() -> JSONResponse:
        """The broker and the database answer (and the service's own checks pass)."""
        checks = await readiness()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
        )


def _add_metrics(app: FastAPI) -> None:
    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def internal_app(public: FastAPI, readiness: ReadinessCheck) -> FastAPI:
    """What only the cluster sees: /metrics, the public app's /openapi.json and /docs, and the probes."""
    app = FastAPI(
        title=f"{public.title} (internal)",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry=NO_FASTAPI_TELEMETRY,
    )
    _add_probes(app, readiness)
    _add_metrics(app)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(public.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=public.title)

    return app


class _InternalServer(uvicorn.Server):
    """A uvicorn server living inside the main one's event loop: it leaves the signals to the main server (which
    stops the app, and this server with it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _with_internal_server(
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    host: str,
    port: int,
    readiness: ReadinessCheck,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def with_internal(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            # Bound here, not by uvicorn: a port in use is an OSError at start, not a SystemExit in a task.
            listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listening.bind((host, port))
            except OSError:
                listening.close()
                raise
            config = uvicorn.Config(
                internal_app(app, readiness), log_config=None, access_log=False, lifespan="off"
            )
            server = _InternalServer(config)
            serving = asyncio.create_task(server.serve(sockets=[listening]), name="internal-http")
            while not server.started:
                if serving.done():
                    serving.result()  # its error
                    raise RuntimeError(f"the internal HTTP server stopped while starting on {host}:{port}")
                await asyncio.sleep(0.01)
            log.info("internal HTTP server listening", extra={"port": port})
            try:
                yield
            finally:
                server.should_exit = True
                with contextlib.suppress(Exception):
                    await serving
                listening.close()

    return with_internal


async def inject_trace_context(request: httpx.Request) -> None:
    """httpx request hook: outgoing calls (to SMS providers) carry the current trace as `traceparent`."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    request.headers.update(carrier)
