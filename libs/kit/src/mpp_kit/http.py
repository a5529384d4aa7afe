"""The HTTP side every service shares: error format, body limit, tracing, /healthz, /readyz, /metrics."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mpp_kit.errors import ApiError, ErrorBody, ErrorResponse, FieldProblem, field_path
from mpp_kit.models import NUL_REASON
from mpp_kit.outage import OUTAGE_TYPES, is_outage

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["method", "route", "status"])

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]

OUTAGE_RETRY_AFTER_S = 5


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
        too_large = _error(
            413,
            "body_too_large",
            f"request body is larger than {self.max_bytes} bytes",
            [FieldProblem(field="body", reason=f"at most {self.max_bytes} bytes")],
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await too_large(scope, receive, send)
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
                await too_large(scope, receive, send)


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
    """One server span per request (continuing the caller's trace if it sent a traceparent), named by the route
    template, and the request counter of /metrics. Plain ASGI: Starlette's BaseHTTPMiddleware wraps `receive`
    in a task group, which turned a streamed body over the limit into an exception group and a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = _method(scope["method"])
        status = 500  # what the client gets if the app raises before answering
        token = otel_context.attach(propagate.extract(headers))
        try:
            with tracer.start_as_current_span(method, kind=trace.SpanKind.SERVER) as span:

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
            HTTP_REQUESTS.labels(method, _route(scope), str(status)).inc()


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
    max_body_bytes: int = 64 * 1024,
    version: str = "0.1.0",
) -> FastAPI:
    app = FastAPI(title=title, version=version, lifespan=lifespan)

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

    app.add_middleware(TracingMiddleware)
    app.add_middleware(NulRefusalMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)

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

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


async def inject_trace_context(request: httpx.Request) -> None:
    """httpx request hook: outgoing calls (to SMS providers) carry the current trace as `traceparent`."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    request.headers.update(carrier)
