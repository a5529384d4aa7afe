"""The HTTP side every service shares: error format, body limit, tracing, /healthz, /readyz, /metrics."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mpp_kit.errors import ApiError, ErrorBody, ErrorResponse, FieldProblem, field_path

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["method", "route", "status"])

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


def _error(status: int, code: str, message: str, fields: list[FieldProblem] | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, fields=fields or []))
    return JSONResponse(body.model_dump(), status_code=status)


class _BodyTooLarge(Exception):
    pass


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
                    raise _BodyTooLarge
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
        return JSONResponse(exc.body.model_dump(), status_code=exc.status)

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
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 415: "unsupported_media_type"}
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal_error", "an unexpected error occurred; it has been logged")

    @app.middleware("http")
    async def _trace(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # One server span per request, continuing the caller's trace if it sent a traceparent.
        token = otel_context.attach(propagate.extract(dict(request.headers)))
        try:
            with tracer.start_as_current_span(
                f"{request.method} {request.url.path}", kind=trace.SpanKind.SERVER
            ) as span:
                response = await call_next(request)
                span.set_attribute("http.response.status_code", response.status_code)
                carrier: dict[str, str] = {}
                propagate.inject(carrier)
                if "traceparent" in carrier:
                    response.headers["traceparent"] = carrier["traceparent"]
        finally:
            otel_context.detach(token)
        route = request.scope.get("route")
        HTTP_REQUESTS.labels(
            request.method, getattr(route, "path", "unmatched"), str(response.status_code)
        ).inc()
        return response

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
