"""What the public internet sees of a kit app: a caller's traceparent does not choose our trace; the method label
of /metrics is bounded; /metrics, /docs and /openapi.json can live on an internal port only; uvicorn's own logs
(a traceback included) come out as masked JSON; a raw body without Content-Length over the limit is 413."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mpp_devstack._proc import free_port
from mpp_kit import http as kit_http
from mpp_kit.logs import setup_logging
from mpp_kit.settings import ServiceSettings

NIK = "6402024101900001"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


@asynccontextmanager
async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


async def always_ready() -> dict[str, bool]:
    return {"nothing_needed": True}


def build_app(**settings: Any) -> FastAPI:
    app = kit_http.create_app(
        "edge test",
        lifespan=no_lifespan,
        readiness=always_ready,
        settings=ServiceSettings(service_name="edge-test", http_max_body_bytes=1024, **settings),
    )

    @app.get("/edge/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"thing": thing_id}

    @app.post("/edge/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/edge/boom")
    async def boom() -> None:
        raise RuntimeError(f"refused applicant nik {NIK}")

    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://edge.test")


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(kit_http, "tracer", provider.get_tracer("edge-test"))
    yield exporter
    provider.shutdown()


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_a_public_callers_traceparent_starts_a_new_trace_linked_to_it(
    spans: InMemorySpanExporter,
) -> None:
    async with client_for(build_app()) as client:
        answer = await client.get("/edge/things/7F3K", headers={"traceparent": CALLER_TRACEPARENT})
    assert answer.status_code == 200
    (span,) = spans.get_finished_spans()
    ours = f"{span.context.trace_id:032x}"
    assert ours != CALLER_TRACE and span.parent is None
    assert [f"{link.context.trace_id:032x}" for link in span.links] == [CALLER_TRACE]
    assert answer.headers["traceparent"].split("-")[1] == ours


async def test_a_trusted_callers_traceparent_is_continued(spans: InMemorySpanExporter) -> None:
    async with client_for(build_app(trust_inbound_traceparent=True)) as client:
        answer = await client.get("/edge/things/7F3K", headers={"traceparent": CALLER_TRACEPARENT})
    (span,) = spans.get_finished_spans()
    assert f"{span.context.trace_id:032x}" == CALLER_TRACE and not span.links
    assert answer.headers["traceparent"].split("-")[1] == CALLER_TRACE


async def test_span_names_use_the_route_template_and_the_method_label_is_bounded(
    spans: InMemorySpanExporter,
) -> None:
    async with client_for(build_app()) as client:
        await client.get("/edge/things/7F3K-9Q2M")
        await client.request("BREW-COFFEE-7F3K", "/edge/things/7F3K-9Q2M")
        metrics = (await client.get("/metrics")).text
    names = [span.name for span in spans.get_finished_spans()]
    assert "GET /edge/things/{thing_id}" in names and "OTHER /edge/things/{thing_id}" in names, names
    assert "BREW" not in metrics and "7F3K" not in metrics
    assert 'method="OTHER",route="/edge/things/{thing_id}"' in metrics


async def test_a_raw_body_without_content_length_over_the_limit_is_413() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(16):
            yield b"x" * 256

    async with client_for(build_app()) as client:
        answer = await client.post("/edge/raw", content=chunks())
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "body_too_large"


async def test_without_an_internal_port_the_ops_pages_are_public_as_before() -> None:
    async with client_for(build_app()) as client:
        for path in ("/metrics", "/docs", "/openapi.json", "/healthz"):
            assert (await client.get(path)).status_code == 200, path


async def test_with_an_internal_port_only_it_serves_metrics_docs_and_openapi() -> None:
    port = free_port()
    app = build_app(internal_port=port, internal_host="127.0.0.1")
    async with client_for(app) as public:
        for path in ("/metrics", "/docs", "/openapi.json"):
            assert (await public.get(path)).status_code == 404, path
        assert (await public.get("/healthz")).status_code == 200
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as internal:
                schema = (await internal.get("/openapi.json")).json()
                assert "/edge/things/{thing_id}" in schema["paths"] and schema["info"]["title"] == "edge test"
                assert "swagger" in (await internal.get("/docs")).text.lower()
                assert "http_requests_total" in (await internal.get("/metrics")).text
                assert (await internal.get("/readyz")).json()["status"] == "ready"
            assert (await public.get("/edge/things/1")).status_code == 200
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the internal server stops with the app"


async def test_an_internal_port_in_use_stops_the_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        app = build_app(internal_port=taken.getsockname()[1], internal_host="127.0.0.1")
        with pytest.raises(OSError):
            async with app.router.lifespan_context(app):
                pass


async def test_uvicorns_own_logs_and_tracebacks_are_masked_json(capsys: pytest.CaptureFixture[str]) -> None:
    """As `uvicorn --factory` runs a service: uvicorn configures its loggers, then calls the factory."""

    def factory() -> FastAPI:
        setup_logging("edge-test")
        return build_app()

    port = free_port()
    config = uvicorn.Config(factory, factory=True, host="127.0.0.1", port=port, lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done()
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/edge/boom")).status_code == 500
    finally:
        server.should_exit = True
        await serving
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is JSON, uvicorn's too
    loggers = {entry["logger"] for entry in entries}
    assert "uvicorn.error" in loggers, loggers
    tracebacks = [entry for entry in entries if entry.get("exc")]
    assert any(entry["logger"] == "uvicorn.error" for entry in tracebacks), tracebacks
    assert all("[nik]" in entry["exc"] for entry in tracebacks)
    assert NIK not in "\n".join(lines)
