"""Routing's ops read API through the real app: appointments per slot for an agency and day, the day's decisions."""

from __future__ import annotations

from typing import Any

import httpx

from tests.routing.conftest import AKTA, PASPOR, Routing, submitted

OPS = {"Authorization": "Bearer ops-token"}


async def get(rt: Routing, app: Any, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://routing") as client:
        return await client.get(path, headers=headers if headers is not None else OPS)


async def test_appointments_per_slot_and_decisions_per_day(rt: Routing, app_settings) -> None:
    from routing.app import create_app

    app = create_app(app_settings)
    app.state.context = rt.ctx  # the routes read the same context as the handlers (no lifespan: no broker)
    for event in (submitted(PASPOR.code), submitted(PASPOR.code), submitted(AKTA.code)):
        await rt.handle(event)

    answer = await get(rt, app, "/appointments?agency_code=IMIGRASI&day=2026-12-09")
    assert answer.status_code == 200, answer.text
    day = answer.json()
    assert (day["quota"], day["booked"], day["left"], day["serving"]) == (4, 2, 2, True)
    assert [(s["starts_at"][11:16], s["booked"], s["left"]) for s in day["slots"]] == [
        ("08:00", 1, 0),
        ("08:15", 1, 0),
        ("08:30", 0, 1),
        ("08:45", 0, 1),
    ]
    christmas = (await get(rt, app, "/appointments?agency_code=IMIGRASI&day=2026-12-25")).json()
    assert (christmas["serving"], christmas["closed_because"], christmas["slots"]) == (
        False,
        "Hari Raya Natal",
        [],
    )

    # Decided now (the database's clock), counted on the day they were made.
    real_today = (await rt.pool.fetchval("SELECT (now() AT TIME ZONE 'Asia/Makassar')::date")).isoformat()
    summary = (await get(rt, app, f"/decisions/summary?day={real_today}")).json()
    assert summary["by_outcome"] == {"central": 2, "local": 1}
    assert summary["by_origin_site"] == {"tabang": {"central": 2, "local": 1}}


async def test_the_ops_api_needs_its_token_before_anything_else(rt: Routing, app_settings) -> None:
    from routing.app import create_app

    app = create_app(app_settings)
    app.state.context = rt.ctx
    assert (await get(rt, app, "/appointments?agency_code=bad", headers={})).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await get(rt, app, "/decisions/summary?day=2026-12-07", headers=wrong)).status_code == 401
    answer = await get(rt, app, "/appointments?agency_code=bad&day=2026-12-07")
    assert answer.status_code == 422
    assert {f["field"] for f in answer.json()["error"]["fields"]} >= {"agency_code"}
    assert (await get(rt, app, "/decisions/summary?day=someday")).status_code == 422
    paths = (await get(rt, app, "/openapi.json")).json()["paths"]
    assert set(paths["/appointments"]["get"]["responses"]) >= {"200", "401", "422"}
