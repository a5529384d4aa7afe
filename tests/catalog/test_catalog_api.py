"""The catalog service as `create_app(settings)` builds it, on the real database and broker: public reads with
ETags, the admin API, and its events reaching a read-model consumer."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from catalog.app import create_app
from catalog.settings import CatalogSettings
from mpp_contracts.catalog import ServiceTypeChanged
from mpp_contracts.topics import CATALOG_SERVICE
from mpp_devstack.infra import Infra
from mpp_devstack.platform import create_database
from mpp_kit.models import NUL_REASON
from mpp_kit.readmodel import ReadModel

ADMIN_TOKEN = "admin-" + uuid.uuid4().hex
OPS_TOKEN = "ops-" + uuid.uuid4().hex
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}


@pytest.fixture(scope="module")
async def catalog(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    """One catalog app (seeded from the Kukar data set) for the module, with a client talking to it."""
    name = f"t_catalog_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(infra.pg_admin_dsn, name)
    settings = CatalogSettings(
        database_url=dsn,
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        catalog_admin_token=ADMIN_TOKEN,
        catalog_ops_token=OPS_TOKEN,
        outbox_poll_interval_s=0.2,
    )
    app = create_app(settings)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://catalog") as client,
        ):
            yield client
    finally:
        conn = await asyncpg.connect(infra.pg_admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def new_service(catalog: httpx.AsyncClient, code: str) -> dict[str, Any]:
    """A new service type, made from an existing one the way an administrator would start."""
    body = (await catalog.get("/services/DUKCAPIL-AKTA-LAHIR")).json()
    body.pop("sites")
    return {**copy.deepcopy(body), "code": code, "name": "Penerbitan Akta Kelahiran (uji coba)", "version": 1}


async def test_public_read_has_an_etag_and_answers_304_when_unchanged(catalog: httpx.AsyncClient) -> None:
    first = await catalog.get("/services/dukcapil-akta-lahir")
    assert first.status_code == 200 and first.headers["X-Version"] == "1"
    body = first.json()
    assert body["fee"]["free"] is True and body["requirements"] and body["completion"]["completion_days"] >= 0
    assert body["agency_code"] == "DUKCAPIL" and "loa-kulu" in body["sites"]
    again = await catalog.get(
        "/services/DUKCAPIL-AKTA-LAHIR", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    site = await catalog.get("/sites/loa-kulu")
    assert site.status_code == 200 and site.json()["version"] == 1
    assert {s["agency_code"] for s in site.json()["schedules"]} <= {
        a["code"] for a in (await catalog.get("/agencies")).json()
    }


async def test_services_by_site_and_agency_are_paginated(catalog: httpx.AsyncClient) -> None:
    page = (await catalog.get("/services", params={"site": "tabang", "limit": 5})).json()
    assert len(page["items"]) == 5 and page["total"] > 5
    assert all(item["channel"] != "central_only" for item in page["items"])
    imigrasi = (await catalog.get("/services", params={"agency_code": "imigrasi", "limit": 100})).json()
    assert imigrasi["total"] >= 3 and {i["agency_code"] for i in imigrasi["items"]} == {"IMIGRASI"}
    passport = next(i for i in imigrasi["items"] if i["code"] == "IMIGRASI-PASPOR-BARU")
    assert passport["central_only_reason"] == "biometrics" and passport["completion_days"] >= 0
    assert (await catalog.get("/services", params={"site": "atlantis"})).status_code == 404


async def test_search_finds_akta_kelahiran_first(catalog: httpx.AsyncClient) -> None:
    page = (await catalog.get("/services", params={"q": "akta lahir", "limit": 3})).json()
    assert page["items"][0]["code"] == "DUKCAPIL-AKTA-LAHIR"


async def test_search_knows_the_agencies_names(catalog: httpx.AsyncClient) -> None:
    """The service builds its index as the search tests do: an agency's aliases find its services."""
    page = (await catalog.get("/services", params={"q": "disdukcapil", "limit": 5})).json()
    assert page["items"] and {i["agency_code"] for i in page["items"]} == {"DUKCAPIL"}


async def test_admin_needs_the_admin_credential(catalog: httpx.AsyncClient) -> None:
    body = await new_service(catalog, "DUKCAPIL-UJI-AUTH")
    assert (await catalog.post("/admin/services", json=body)).status_code == 401
    unknown = await catalog.post("/admin/services", json=body, headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401 and unknown.headers["WWW-Authenticate"] == "Bearer"
    assert (await catalog.post("/admin/services", json=body, headers=OPS)).status_code == 403
    assert (await catalog.delete("/admin/services/DUKCAPIL-AKTA-LAHIR", headers=OPS)).status_code == 403


async def test_a_non_ascii_token_is_401(catalog: httpx.AsyncClient) -> None:
    body = await new_service(catalog, "DUKCAPIL-UJI-ASCII")
    response = await catalog.post(
        "/admin/services", json=body, headers=[(b"Authorization", "Bearer sékret".encode())]
    )
    assert response.status_code == 401


async def test_the_credential_is_checked_before_the_body(catalog: httpx.AsyncClient) -> None:
    assert (await catalog.post("/admin/services", json={"code": 5})).status_code == 401
    assert (await catalog.post("/admin/services", json={"code": 5}, headers=OPS)).status_code == 403
    assert (await catalog.put("/admin/sites/anggana", json={}, headers={"If-Match": "x"})).status_code == 401


async def test_invalid_admin_input_is_422_with_the_path_of_each_bad_field(catalog: httpx.AsyncClient) -> None:
    body = await new_service(catalog, "DUKCAPIL-UJI-INVALID")
    body["fee"] = {**body["fee"], "amount": -5}
    body["requirements"][0]["form"] = "photocopy"
    del body["product"]
    response = await catalog.post("/admin/services", json=body, headers=ADMIN)
    assert response.status_code == 422
    fields = {f["field"] for f in response.json()["error"]["fields"]}
    assert {"fee.amount", "requirements[0].form", "product"} <= fields
    unknown_agency = {**(await new_service(catalog, "NOPE-UJI-AGENCY")), "agency_code": "NOPE"}
    response = await catalog.post("/admin/services", json=unknown_agency, headers=ADMIN)
    assert response.status_code == 422 and "agency_code" in {
        f["field"] for f in response.json()["error"]["fields"]
    }


async def test_nul_in_an_admin_text_field_is_422_naming_the_field(catalog: httpx.AsyncClient) -> None:
    body = await new_service(catalog, "DUKCAPIL-UJI-NUL")
    body["name"] = "Akta\x00Kelahiran"
    body["requirements"][0]["name"] = "KTP\x00"
    response = await catalog.post("/admin/services", json=body, headers=ADMIN)
    assert response.status_code == 422
    problems = {f["field"]: f["reason"] for f in response.json()["error"]["fields"]}
    assert problems["name"].endswith(NUL_REASON) and problems["requirements[0].name"].endswith(NUL_REASON)


async def test_a_wrong_method_is_405_with_allow(catalog: httpx.AsyncClient) -> None:
    response = await catalog.delete("/admin/sites/anggana", headers=ADMIN)
    assert response.status_code == 405 and response.headers["Allow"] == "PUT"
    response = await catalog.post("/services", json={})
    assert response.status_code == 405 and response.headers["Allow"] == "GET"


async def test_a_stale_version_is_409_and_retiring_needs_if_match(catalog: httpx.AsyncClient) -> None:
    body = await new_service(catalog, "DUKCAPIL-UJI-STALE")
    assert (await catalog.post("/admin/services", json=body, headers=ADMIN)).status_code == 201
    path = "/admin/services/DUKCAPIL-UJI-STALE"
    first = await catalog.put(path, json=body, headers={**ADMIN, "If-Match": '"1"'})
    assert first.status_code == 200 and first.json()["version"] == 2 and first.headers["ETag"] == '"2"'
    second = await catalog.put(path, json=body, headers={**ADMIN, "If-Match": '"1"'})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "stale_version"
    assert second.json()["error"]["fields"] == [{"field": "version", "reason": "current version is 2"}]
    assert (await catalog.post("/admin/services", json=body, headers=ADMIN)).status_code == 409
    assert (await catalog.put(path, json=body, headers={**ADMIN, "If-Match": "two"})).status_code == 422
    missing = await catalog.delete(path, headers=ADMIN)
    assert missing.status_code == 428 and missing.json()["error"]["fields"][0]["field"] == "If-Match"
    assert (await catalog.delete(path, headers={**ADMIN, "If-Match": 'W/"2"'})).status_code == 204
    assert (await catalog.delete(path, headers={**ADMIN, "If-Match": '"2"'})).status_code == 404


async def test_changes_reach_a_read_model_within_seconds_and_a_restart_rebuilds_the_same_copy(
    infra: Infra, catalog: httpx.AsyncClient
) -> None:
    copy_ = ReadModel(CATALOG_SERVICE.name, ServiceTypeChanged, lambda e: e.service, infra.kafka_bootstrap)
    await copy_.start_and_load(timeout=30)
    try:
        await until(lambda: "DUKCAPIL-AKTA-LAHIR" in copy_.items and len(copy_.items) >= 400)
        assert copy_.items["DUKCAPIL-AKTA-LAHIR"].agency_code == "DUKCAPIL"
        body = await new_service(catalog, "DUKCAPIL-UJI-LIVE")
        assert (await catalog.post("/admin/services", json=body, headers=ADMIN)).status_code == 201
        await until(lambda: "DUKCAPIL-UJI-LIVE" in copy_.items)
        body["name"] = "Penerbitan Akta Kelahiran (uji coba, diubah)"
        changed = await catalog.put(
            "/admin/services/DUKCAPIL-UJI-LIVE", json=body, headers={**ADMIN, "If-Match": '"1"'}
        )
        assert changed.status_code == 200
        await until(lambda: copy_.items["DUKCAPIL-UJI-LIVE"].version == 2)
        assert copy_.items["DUKCAPIL-UJI-LIVE"].name.endswith("diubah)")
        retired = await catalog.delete(
            "/admin/services/DUKCAPIL-UJI-LIVE", headers={**ADMIN, "If-Match": '"2"'}
        )
        assert retired.status_code == 204
        await until(lambda: "DUKCAPIL-UJI-LIVE" not in copy_.items)
        assert (await catalog.get("/services/DUKCAPIL-UJI-LIVE")).status_code == 404
    finally:
        await copy_.stop()
    rebuilt = ReadModel(CATALOG_SERVICE.name, ServiceTypeChanged, lambda e: e.service, infra.kafka_bootstrap)
    await rebuilt.start_and_load(timeout=30)
    try:
        assert rebuilt.items == copy_.items
    finally:
        await rebuilt.stop()


async def until(check: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def test_sites_are_created_and_replaced_with_optimistic_concurrency(catalog: httpx.AsyncClient) -> None:
    site = (await catalog.get("/sites/anggana")).json()
    version = site.pop("version")
    site.pop("schedules")
    changed = {**site, "address": "Kantor Camat Anggana, Sungai Meriam (alamat diperbarui)"}
    assert (await catalog.put("/admin/sites/anggana", json=changed, headers=ADMIN)).status_code == 428
    ok = await catalog.put(
        "/admin/sites/anggana", json=changed, headers={**ADMIN, "If-Match": f'"{version}"'}
    )
    assert ok.status_code == 200 and ok.json()["version"] == version + 1
    stale = await catalog.put(
        "/admin/sites/anggana", json=changed, headers={**ADMIN, "If-Match": f'"{version}"'}
    )
    assert stale.status_code == 409
    assert (await catalog.get("/sites/anggana")).json()["address"].endswith("(alamat diperbarui)")
    bad = {**site, "slug": "Anggana Baru", "kemendagri_code": "64-02-04"}
    response = await catalog.put("/admin/sites/Anggana%20Baru", json=bad, headers=ADMIN)
    assert response.status_code == 422
    assert {"slug", "kemendagri_code"} <= {f["field"] for f in response.json()["error"]["fields"]}


async def test_openapi_documents_statuses_and_rules(catalog: httpx.AsyncClient) -> None:
    spec = (await catalog.get("/openapi.json")).json()
    paths = spec["paths"]
    retire = paths["/admin/services/{code}"]["delete"]
    assert {"401", "403", "404", "409", "422", "428"} <= set(retire["responses"])
    if_match = next(p for p in retire["parameters"] if p["in"] == "header")
    assert if_match["name"].lower() == "if-match" and "pattern" in str(if_match["schema"])
    assert {"304", "404"} <= set(paths["/services/{code}"]["get"]["responses"])
    assert {"401", "403", "409", "413", "422"} <= set(paths["/admin/services"]["post"]["responses"])
    assert "pattern" in paths["/sites/{slug}"]["get"]["parameters"][0]["schema"]
    assert spec["components"]["schemas"]["ServiceType"]["properties"]["code"]["pattern"]
