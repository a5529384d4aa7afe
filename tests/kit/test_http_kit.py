"""The HTTP app every service shares (mpp_kit.http.create_app): bad input is a 4xx in the one error format, an
unexpected failure a 500 in it, and both are counted and traced by route template. No broker or database: a tiny
app built with the kit, called in process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Query, Request
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import Field

from mpp_kit import http as kit_http
from mpp_kit.auth import bearer
from mpp_kit.models import NUL_REASON, ApiModel

MAX_BODY = 1024
TOKENS = {"sekret": "alice"}

operator = bearer(lambda request: TOKENS, scheme_name="KitTestToken", description="kit test token")
Operator = Annotated[str, Depends(operator)]


class Inner(ApiModel):
    items: list[str] = Field(default_factory=list)


class Thing(ApiModel):
    name: str
    tags: list[str] = Field(default_factory=list)
    nested: Inner = Field(default_factory=Inner)


@asynccontextmanager
async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


async def always_ready() -> dict[str, bool]:
    return {"nothing_needed": True}


def build_app() -> FastAPI:
    app = kit_http.create_app(
        "kit test", lifespan=no_lifespan, readiness=always_ready, max_body_bytes=MAX_BODY
    )

    @app.post("/kit-test/things")
    async def create_thing(thing: Thing, who: Operator) -> dict[str, str]:
        return {"name": thing.name, "by": who}

    @app.delete("/kit-test/things")
    async def clear_things(who: Operator) -> dict[str, str]:
        return {"cleared_by": who}

    @app.post("/kit-test/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/kit-test/search")
    async def search(q: Annotated[str, Query(max_length=50)]) -> dict[str, str]:
        return {"q": q}

    @app.get("/kit-test/boom/{thing_id}")
    async def boom(thing_id: str) -> None:
        raise RuntimeError(f"broken on purpose for {thing_id}")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: Starlette re-raises a 500's exception after answering; the client must see
    # the answer, as a real server's client would.
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://kit.test") as c:
        yield c


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """The kit's tracer pointed at a private provider, so the process-wide one is left alone."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(kit_http, "tracer", provider.get_tracer("kit-test"))
    yield exporter
    provider.shutdown()


AUTH = {"Authorization": "Bearer sekret"}


def fields(response: httpx.Response) -> list[dict[str, str]]:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "fields"} <= set(body["error"])
    return list(body["error"]["fields"])


async def test_a_valid_request_with_the_token_is_served(client: httpx.AsyncClient) -> None:
    answer = await client.post("/kit-test/things", json={"name": "akta"}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": "akta", "by": "alice"}


async def test_no_token_is_401_before_the_body_is_validated(client: httpx.AsyncClient) -> None:
    for body in ({"name": 12, "nested": "not an object"}, {}):
        answer = await client.post("/kit-test/things", json=body)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    wrong = await client.post("/kit-test/things", json={}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_a_non_ascii_authorization_header_is_401_not_500(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/kit-test/things",
        json={"name": "akta"},
        headers=[(b"Authorization", "Bearer sékret".encode())],
    )
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "unauthorized"


async def test_nul_in_a_body_field_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    answer = await client.post("/kit-test/things", json={"name": "ak\u0000ta"}, headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_failed"
    problems = fields(answer)
    assert [p["field"] for p in problems] == ["name"] and NUL_REASON in problems[0]["reason"], problems


async def test_nul_inside_a_list_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/kit-test/things", json={"name": "akta", "tags": ["KTP", "K\u0000K"]}, headers=AUTH
    )
    assert answer.status_code == 422, answer.text
    problems = fields(answer)
    assert [p["field"] for p in problems] == ["tags"] and NUL_REASON in problems[0]["reason"], problems


NESTED_NUL = {"name": "akta", "nested": {"items": ["KTP", "K\u0000K"]}}


async def test_nul_inside_a_nested_model_is_422_naming_the_outer_field(client: httpx.AsyncClient) -> None:
    answer = await client.post("/kit-test/things", json=NESTED_NUL, headers=AUTH)
    assert answer.status_code == 422, answer.text
    problems = fields(answer)
    assert problems[0]["field"].startswith("nested") and NUL_REASON in problems[0]["reason"], problems


async def test_nul_inside_a_nested_model_names_the_inner_field(client: httpx.AsyncClient) -> None:
    answer = await client.post("/kit-test/things", json=NESTED_NUL, headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in fields(answer)] == ["nested.items"]


async def test_nul_in_a_query_parameter_is_422(client: httpx.AsyncClient) -> None:
    answer = await client.get("/kit-test/search", params={"q": "akta\u0000lahir"})
    assert answer.status_code == 422, answer.text
    assert fields(answer) == [{"field": "q", "reason": NUL_REASON}]
    assert (await client.get("/kit-test/search", params={"q": "akta lahir"})).status_code == 200


async def chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked): the limit must hold while it streams."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        yield b" " * piece
        sent += piece


@pytest.mark.parametrize("path", ["/kit-test/things", "/kit-test/raw"])
async def test_a_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.post(
        path, content=chunks(MAX_BODY * 4), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "body_too_large"
    assert fields(answer)[0]["field"] == "body"


async def test_a_streamed_body_under_the_limit_is_read_whole(client: httpx.AsyncClient) -> None:
    answer = await client.post("/kit-test/raw", content=chunks(MAX_BODY - 10))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"bytes": MAX_BODY - 10}


async def test_an_announced_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    answer = await client.post("/kit-test/raw", content=b"x" * (MAX_BODY + 1))
    assert answer.status_code == 413, answer.text


async def test_405_says_which_methods_are_allowed(client: httpx.AsyncClient) -> None:
    answer = await client.get("/kit-test/things")
    assert answer.status_code == 405, answer.text
    assert answer.json()["error"]["code"] == "method_not_allowed"
    # Both routes on the path, not only the first one Starlette matched.
    assert answer.headers["Allow"] == "DELETE, POST"


async def test_an_unexpected_error_is_a_500_in_the_error_format_and_counted_by_route(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/kit-test/boom/7F3K-9Q2M")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": {
            "code": "internal_error",
            "message": "an unexpected error occurred; it has been logged",
            "fields": [],
        }
    }
    assert "broken on purpose" not in answer.text

    metrics = (await client.get("/metrics")).text
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("http_requests_total{")
        and 'route="/kit-test/boom/{thing_id}"' in line
        and 'status="500"' in line
    ]
    assert counted and float(counted[0].rsplit(" ", 1)[1]) >= 1, metrics
    assert "7F3K-9Q2M" not in metrics, "the raw path (a tracking code) must not become a label"


async def test_one_span_per_request_ours_even_with_a_process_wide_tracer_provider(
    client: httpx.AsyncClient, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI's own telemetry would add a server span of its own whenever a tracer provider is installed (each
    service installs one): continuing any caller's traceparent and recording the raw path and query. The kit
    turns it off; its span follows TRUST_INBOUND_TRACEPARENT and is named by the route template."""
    everyone = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(everyone))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await client.get("/kit-test/boom/7F3K-9Q2M", params={"q": "Siti"}, headers={"traceparent": caller})
    assert everyone.get_finished_spans() == ()
    [ours] = spans.get_finished_spans()
    assert ours.name == "GET /kit-test/boom/{thing_id}"
    assert f"{ours.context.trace_id:032x}" != caller.split("-")[1]
    provider.shutdown()


async def test_the_span_is_named_by_the_route_template(
    client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    await client.get("/kit-test/boom/7F3K-9Q2M")
    await client.get("/kit-test/search", params={"q": "akta"})
    names = [span.name for span in spans.get_finished_spans()]
    assert "GET /kit-test/boom/{thing_id}" in names and "GET /kit-test/search" in names, names
    assert not any("7F3K" in name for name in names)
