"""Who may call what: every endpoint of intake, catalog, routing and notify, called by every kind of caller, with
the status each must get. The apps are the real ones (`create_app(settings)`), in-process on the real database;
the table must name every route the apps have, so a new endpoint without its row fails here."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import SecretStr

import notify
import routing
from catalog.app import create_app as create_catalog
from catalog.settings import CatalogSettings
from intake.domain import SURVEY_KEYS, new_tracking_code
from mpp_devstack.infra import Infra
from mpp_devstack.platform import create_database
from mpp_kit.db import create_pool, migrate
from routing.app import create_app as create_routing
from routing.context import RoutingContext
from routing.settings import RoutingSettings
from tests.intake.conftest import (
    OPERATOR_TOKEN,
    OTHER_SITE_TOKEN,
    SERVICE,
    SUPERVISOR_TOKEN,
    SilentRelay,
    intake_settings,
    running_intake,
)
from tests.notify.conftest import OPS_TOKEN as NOTIFY_OPS_TOKEN
from tests.notify.conftest import REPORT_TOKEN, notify_app, notify_settings

CATALOG_ADMIN = "admin-" + uuid.uuid4().hex
CATALOG_OPS = "ops-" + uuid.uuid4().hex
ROUTING_OPS = "routing-ops-" + uuid.uuid4().hex
TOKENS: dict[str, str | None] = {
    "anonymous": None,
    "operator A": OPERATOR_TOKEN,  # an operator of the intake's site
    "operator B": OTHER_SITE_TOKEN,  # a valid operator credential bound to another site
    "supervisor": SUPERVISOR_TOKEN,  # a supervisor of the intake's site (may also cancel and erase)
    "catalog admin": CATALOG_ADMIN,
    "catalog ops": CATALOG_OPS,
    "notify ops": NOTIFY_OPS_TOKEN,
    "delivery reports": REPORT_TOKEN,
    "routing ops": ROUTING_OPS,
}
APPLICANT = {"name": "Dewi Lestari", "nik": "6402024101900001", "phone": "0812-7000-4321"}
NOBODY = str(uuid.uuid4())  # an application, message... that does not exist


@dataclass
class Row:
    """One endpoint called one way: the status of each caller named, `others` for the rest."""

    service: str
    method: str
    route: str  # the route's template, as the app declares it
    url: str
    others: int
    only: dict[str, int] = field(default_factory=dict)
    body: Any = None


def public(service: str, method: str, route: str, url: str, status: int, body: Any = None) -> Row:
    return Row(service, method, route, url, status, {}, body)


def intake_rows(seen: str, closed: str) -> list[Row]:
    # Another site's operator finds nothing; a supervisor of the site does whatever its operators do.
    operators = {"operator A": 200, "operator B": 404, "supervisor": 200}
    counter = {"service_code": SERVICE, "channel": "counter", "applicant": APPLICANT}
    application = "/applications/{application_id}"
    return [
        # Counter: this site's operator only (another site's: 403; an unknown token: 401).
        Row(
            "intake",
            "POST",
            "/applications",
            "/applications",
            401,
            {"operator A": 201, "operator B": 403, "supervisor": 201},
            counter,
        ),
        # Online: no credential needed; a token that is given must be valid.
        Row(
            "intake",
            "POST",
            "/applications",
            "/applications",
            401,
            {"anonymous": 201, "operator A": 201, "operator B": 201, "supervisor": 201},
            {**counter, "channel": "online"},
        ),
        public(
            "intake",
            "POST",
            f"{application}/verify",
            f"/applications/{NOBODY}/verify",
            404,
            {"code": "000000"},
        ),
        public(
            "intake",
            "POST",
            f"{application}/verification/resend",
            f"/applications/{NOBODY}/verification/resend",
            404,
        ),
        public("intake", "POST", "/applications/track", "/applications/track", 404),  # body per caller below
        public("intake", "GET", "/applications/track/{tracking_code}", "/applications/track/AAAA-BBBB", 410),
        # Proven like tracking, whoever calls: an unknown code is a 404 (a code of its own per caller below).
        public(
            "intake",
            "POST",
            "/applications/track/survey",
            "/applications/track/survey",
            404,
            {"answers": dict.fromkeys(SURVEY_KEYS, 3)},
        ),
        Row("intake", "GET", application, f"/applications/{seen}", 401, operators),
        Row(
            "intake",
            "POST",
            f"{application}/status",
            f"/applications/{seen}/status",
            401,
            # The supervisor comes after operator A moved it: allowed, and refused by the rules only (409).
            {"operator A": 200, "operator B": 404, "supervisor": 409},
            {"status": "in_progress"},
        ),
        Row(
            "intake",
            "POST",
            f"{application}/ready",
            f"/applications/{NOBODY}/ready",
            401,
            {"operator A": 404, "operator B": 404, "supervisor": 404},
        ),
        Row(
            "intake",
            "POST",
            f"{application}/check-in",
            f"/applications/{NOBODY}/check-in",
            401,
            {"operator A": 404, "operator B": 404, "supervisor": 404},
        ),
        Row(
            "intake",
            "POST",
            f"{application}/cancel",
            f"/applications/{NOBODY}/cancel",
            401,
            # A supervisor's: an operator is refused before anything is looked up (nothing learnt).
            {"operator A": 403, "operator B": 403, "supervisor": 404},
            {"reason": "tidak jadi"},
        ),
        Row(
            "intake",
            "POST",
            f"{application}/reschedule",
            f"/applications/{NOBODY}/reschedule",
            401,
            {"operator A": 404, "operator B": 404, "supervisor": 404},
            {},
        ),
        Row(
            "intake",
            "POST",
            f"{application}/erase",
            f"/applications/{closed}/erase",
            401,
            {"operator A": 403, "operator B": 403, "supervisor": 200},  # a supervisor's, as cancel
            {"reason": "permintaan pemohon"},
        ),
        Row(
            "intake",
            "GET",
            "/queue",
            "/queue",
            401,
            {"operator A": 200, "operator B": 200, "supervisor": 200},
        ),  # B: an empty list
        Row(
            "intake",
            "GET",
            "/arrivals",
            "/arrivals",
            401,
            {"operator A": 200, "operator B": 200, "supervisor": 200},
        ),
        Row(
            "intake",
            "GET",
            "/pickups",
            "/pickups",
            401,
            {"operator A": 200, "operator B": 200, "supervisor": 200},
        ),  # B: its own site's, none here
        Row(
            "intake",
            "GET",
            "/search",
            "/search?q=Dewi",
            401,
            {"operator A": 200, "operator B": 200, "supervisor": 200},
        ),
        Row(  # B: their own site's responses, none here
            "intake",
            "GET",
            "/surveys/summary",
            "/surveys/summary",
            401,
            {"operator A": 200, "operator B": 200, "supervisor": 200},
        ),
    ]


def catalog_rows() -> list[Row]:
    admin_only = {"catalog admin": 422, "catalog ops": 403}  # the admin gets as far as the body
    return [
        public("catalog", "GET", "/services", "/services?q=akta", 200),
        public("catalog", "GET", "/services/{code}", "/services/DUKCAPIL-AKTA-LAHIR", 200),
        public("catalog", "GET", "/sites", "/sites", 200),
        public("catalog", "GET", "/sites/{slug}", "/sites/loa-kulu", 200),
        public("catalog", "GET", "/agencies", "/agencies", 200),
        Row("catalog", "POST", "/admin/services", "/admin/services", 401, admin_only, {}),
        Row(
            "catalog",
            "PUT",
            "/admin/services/{code}",
            "/admin/services/DUKCAPIL-AKTA-LAHIR",
            401,
            admin_only,
            {},
        ),
        Row(
            "catalog",
            "DELETE",
            "/admin/services/{code}",
            "/admin/services/DUKCAPIL-AKTA-LAHIR",
            401,
            {"catalog admin": 428, "catalog ops": 403},  # the admin must say which version (If-Match)
        ),
        Row("catalog", "PUT", "/admin/sites/{slug}", "/admin/sites/loa-kulu", 401, admin_only, {}),
    ]


def routing_rows() -> list[Row]:
    return [
        Row(
            "routing",
            "GET",
            "/appointments",
            "/appointments?agency_code=IMIGRASI&day=2026-12-09",
            401,
            {"routing ops": 200},
        ),
        Row(
            "routing",
            "GET",
            "/decisions/summary",
            "/decisions/summary?day=2026-12-09",
            401,
            {"routing ops": 200},
        ),
    ]


def notify_rows() -> list[Row]:
    return [
        Row(
            "notify",
            "POST",
            "/delivery-reports",
            "/delivery-reports",
            401,
            {"delivery reports": 200},
            {"reports": []},
        ),
        # Twilio signs its callbacks: a bearer token is no credential there.
        public("notify", "POST", "/delivery-reports/twilio", "/delivery-reports/twilio", 403),
        Row("notify", "GET", "/messages", "/messages", 401, {"notify ops": 200}),
        Row("notify", "GET", "/messages/{message_id}", f"/messages/{NOBODY}", 401, {"notify ops": 404}),
    ]


# The kit's own routes: the same for every caller of every service.
KIT = (("GET", "/healthz", 200), ("GET", "/metrics", 200))
# The documents, and readiness (the same for every caller; whether a runtime runs here, not who asks).
IGNORED = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/readyz"}


@asynccontextmanager
async def fresh_database(infra: Infra) -> AsyncIterator[str]:
    name = f"t_auth_{uuid.uuid4().hex[:10]}"
    yield await create_database(infra.pg_admin_dsn, name)
    conn = await asyncpg.connect(infra.pg_admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def apps(infra: Infra, database: str) -> AsyncIterator[tuple[dict[str, FastAPI], Any]]:
    async with AsyncExitStack() as stack:
        catalog = create_catalog(
            CatalogSettings(
                database_url=await stack.enter_async_context(fresh_database(infra)),
                kafka_bootstrap_servers=infra.kafka_bootstrap,
                catalog_admin_token=CATALOG_ADMIN,
                catalog_ops_token=CATALOG_OPS,
            )
        )
        await stack.enter_async_context(catalog.router.lifespan_context(catalog))
        # Every caller asks for a code again within one window: more than the default per-address limit.
        intake = await stack.enter_async_context(
            running_intake(intake_settings(infra, database, rate_limit_resends=len(TOKENS)))
        )

        # Routing and notify without their consumers (nothing to consume here): the routes get a migrated pool.
        routing_db = await stack.enter_async_context(fresh_database(infra))
        routing_app = create_routing(
            RoutingSettings(database_url=SecretStr(routing_db), routing_ops_token=SecretStr(ROUTING_OPS))
        )
        await migrate(routing_db, _migrations(routing))
        routing_pool = await stack.enter_async_context(await create_pool(routing_db))
        context: RoutingContext = routing_app.state.context
        context.pool = routing_pool
        notify_db = await stack.enter_async_context(fresh_database(infra))
        await migrate(notify_db, _migrations(notify))
        notify_pool = await stack.enter_async_context(await create_pool(notify_db))
        notify_http = notify_app(notify_pool, notify_settings(notify_db))
        assert intake.app is not None
        yield (
            {"catalog": catalog, "intake": intake.app, "routing": routing_app, "notify": notify_http},
            intake,
        )


def _migrations(package: Any) -> Path:
    return Path(package.__file__).parent / "migrations"


def routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every operation of the app's document, and the kit's routes kept out of it."""
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    kit = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and route.path not in IGNORED
        for method in (route.methods or set()) - {"HEAD"}
    }
    return {(method, path) for method, path in documented | kit if path not in IGNORED}


async def test_every_endpoint_answers_every_caller_as_the_table_says(
    infra: Infra, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mpp_kit.runtime.OutboxRelay", SilentRelay)
    async with apps(infra, database) as (built, intake):
        operator = intake.operator()
        counter = {"service_code": SERVICE, "channel": "counter", "applicant": APPLICANT}
        seen = (await intake.client.post("/applications", json=counter, headers=operator)).json()[
            "application_id"
        ]
        closed = (await intake.client.post("/applications", json=counter, headers=operator)).json()[
            "application_id"
        ]
        cancelled = await intake.client.post(
            f"/applications/{closed}/cancel", json={"reason": "tidak jadi"}, headers=intake.supervisor()
        )
        assert cancelled.status_code == 200

        rows = intake_rows(seen, closed) + catalog_rows() + routing_rows() + notify_rows()
        rows += [
            public(service, method, path, path, status) for service in built for method, path, status in KIT
        ]
        for service, app in built.items():
            named = {(row.method, row.route) for row in rows if row.service == service}
            assert routes(app) == named, f"{service}: routes without a row, or rows without a route"

        clients = {
            service: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{service}")
            for service, app in built.items()
        }
        wrong: list[str] = []
        for row in rows:
            for caller, token in TOKENS.items():
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                body = row.body
                if row.route in (
                    "/applications/track",
                    "/applications/track/survey",
                ):  # a code of its own per caller: no lock shared between them
                    body = {**(row.body or {}), "tracking_code": new_tracking_code(), "phone_last4": "0000"}
                answer = await clients[row.service].request(row.method, row.url, json=body, headers=headers)
                expected = row.only.get(caller, row.others)
                if answer.status_code != expected:
                    wrong.append(
                        f"{row.service} {row.method} {row.url} as {caller}: {answer.status_code}, "
                        f"expected {expected} ({answer.text[:120]})"
                    )
        for client in clients.values():
            await client.aclose()
        assert not wrong, "\n".join(wrong)
