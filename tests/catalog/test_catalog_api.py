"""The catalog service as a real process: public reads with ETags, the admin API, and its events reaching a
read-model consumer on the real broker."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import httpx
import pytest

from mpp_contracts.catalog import ServiceTypeChanged
from mpp_contracts.topics import CATALOG_SERVICE
from mpp_devstack.platform import Platform
from mpp_kit.readmodel import ReadModel


@pytest.fixture(scope="module")
def catalog(platform: Platform) -> str:
    return platform.url("catalog")


@pytest.fixture(scope="module")
def admin(platform_secrets: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform_secrets['catalog_admin_token']}"}


def new_service(catalog: str, code: str) -> dict[str, Any]:
    """A new service type, made from an existing one the way an administrator would start."""
    body = httpx.get(f"{catalog}/services/DUKCAPIL-AKTA-LAHIR").json()
    body.pop("sites")
    return {**copy.deepcopy(body), "code": code, "name": "Penerbitan Akta Kelahiran (uji coba)", "version": 1}


def test_public_read_has_an_etag_and_answers_304_when_unchanged(catalog: str) -> None:
    first = httpx.get(f"{catalog}/services/DUKCAPIL-AKTA-LAHIR")
    assert first.status_code == 200
    body = first.json()
    assert body["fee"]["free"] is True and body["requirements"] and body["completion"]["working_days"] >= 0
    assert "loa-kulu" in body["sites"]
    again = httpx.get(
        f"{catalog}/services/DUKCAPIL-AKTA-LAHIR", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_services_by_site_and_agency_are_paginated(catalog: str) -> None:
    page = httpx.get(f"{catalog}/services", params={"site": "tabang", "limit": 5}).json()
    assert len(page["items"]) == 5 and page["total"] > 5
    assert all(item["channel"] != "central_only" for item in page["items"])
    imigrasi = httpx.get(f"{catalog}/services", params={"agency": "IMIGRASI", "limit": 100}).json()
    assert imigrasi["total"] >= 3 and {i["agency"] for i in imigrasi["items"]} == {"IMIGRASI"}
    assert httpx.get(f"{catalog}/services", params={"site": "atlantis"}).status_code == 404


def test_search_finds_akta_kelahiran_first(catalog: str) -> None:
    page = httpx.get(f"{catalog}/services", params={"q": "akta lahir", "limit": 3}).json()
    assert page["items"][0]["code"] == "DUKCAPIL-AKTA-LAHIR"


def test_admin_needs_the_admin_credential(catalog: str, platform_secrets: dict[str, str]) -> None:
    body = new_service(catalog, "DUKCAPIL-UJI-AUTH")
    assert httpx.post(f"{catalog}/admin/services", json=body).status_code == 401
    ops = {"Authorization": f"Bearer {platform_secrets['catalog_ops_token']}"}
    assert httpx.post(f"{catalog}/admin/services", json=body, headers=ops).status_code == 403


def test_invalid_admin_input_is_422_with_the_path_of_each_bad_field(
    catalog: str, admin: dict[str, str]
) -> None:
    body = new_service(catalog, "DUKCAPIL-UJI-INVALID")
    body["fee"] = {**body["fee"], "amount": -5}
    body["requirements"][0]["form"] = "photocopy"
    del body["product"]
    response = httpx.post(f"{catalog}/admin/services", json=body, headers=admin)
    assert response.status_code == 422
    fields = {f["field"] for f in response.json()["error"]["fields"]}
    assert {"fee.amount", "requirements[0].form", "product"} <= fields
    unknown_agency = {**new_service(catalog, "NOPE-UJI-AGENCY"), "agency": "NOPE"}
    response = httpx.post(f"{catalog}/admin/services", json=unknown_agency, headers=admin)
    assert response.status_code == 422 and "agency" in {
        f["field"] for f in response.json()["error"]["fields"]
    }


def test_a_stale_version_is_409(catalog: str, admin: dict[str, str]) -> None:
    body = new_service(catalog, "DUKCAPIL-UJI-STALE")
    assert httpx.post(f"{catalog}/admin/services", json=body, headers=admin).status_code == 201
    first = httpx.put(
        f"{catalog}/admin/services/DUKCAPIL-UJI-STALE", json=body, headers={**admin, "If-Match": '"1"'}
    )
    assert first.status_code == 200 and first.json()["version"] == 2
    second = httpx.put(
        f"{catalog}/admin/services/DUKCAPIL-UJI-STALE", json=body, headers={**admin, "If-Match": '"1"'}
    )
    assert second.status_code == 409
    assert second.json()["error"]["fields"] == [{"field": "version", "reason": "expected 2, got 1"}]
    assert httpx.post(f"{catalog}/admin/services", json=body, headers=admin).status_code == 409


async def test_changes_reach_a_read_model_within_seconds_and_a_restart_rebuilds_the_same_copy(
    platform: Platform, catalog: str, admin: dict[str, str]
) -> None:
    copy_ = ReadModel(CATALOG_SERVICE.name, ServiceTypeChanged, lambda e: e.service, platform.kafka_bootstrap)
    await copy_.start_and_load(timeout=30)
    try:
        assert "DUKCAPIL-AKTA-LAHIR" in copy_.items and len(copy_.items) >= 400
        body = new_service(catalog, "DUKCAPIL-UJI-LIVE")
        async with httpx.AsyncClient() as client:
            assert (
                await client.post(f"{catalog}/admin/services", json=body, headers=admin)
            ).status_code == 201
            await until(lambda: "DUKCAPIL-UJI-LIVE" in copy_.items)
            body["name"] = "Penerbitan Akta Kelahiran (uji coba, diubah)"
            changed = await client.put(
                f"{catalog}/admin/services/DUKCAPIL-UJI-LIVE", json=body, headers={**admin, "If-Match": '"1"'}
            )
            assert changed.status_code == 200
            await until(lambda: copy_.items["DUKCAPIL-UJI-LIVE"].version == 2)
            assert copy_.items["DUKCAPIL-UJI-LIVE"].name.endswith("diubah)")
            retired = await client.delete(
                f"{catalog}/admin/services/DUKCAPIL-UJI-LIVE", headers={**admin, "If-Match": '"2"'}
            )
            assert retired.status_code == 204
            await until(lambda: "DUKCAPIL-UJI-LIVE" not in copy_.items)
            assert (await client.get(f"{catalog}/services/DUKCAPIL-UJI-LIVE")).status_code == 404
    finally:
        await copy_.stop()
    rebuilt = ReadModel(
        CATALOG_SERVICE.name, ServiceTypeChanged, lambda e: e.service, platform.kafka_bootstrap
    )
    await rebuilt.start_and_load(timeout=30)
    try:
        assert rebuilt.items == copy_.items
    finally:
        await rebuilt.stop()


async def until(check: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


def test_sites_are_created_and_replaced_with_optimistic_concurrency(
    catalog: str, admin: dict[str, str]
) -> None:
    site = httpx.get(f"{catalog}/sites/anggana").json()
    version = site.pop("version")
    site.pop("schedules")
    changed = {**site, "address": "Kantor Camat Anggana, Sungai Meriam (alamat diperbarui)"}
    assert httpx.put(f"{catalog}/admin/sites/anggana", json=changed, headers=admin).status_code == 428
    ok = httpx.put(
        f"{catalog}/admin/sites/anggana", json=changed, headers={**admin, "If-Match": f'"{version}"'}
    )
    assert ok.status_code == 200 and ok.json()["version"] == version + 1
    stale = httpx.put(
        f"{catalog}/admin/sites/anggana", json=changed, headers={**admin, "If-Match": f'"{version}"'}
    )
    assert stale.status_code == 409
    assert httpx.get(f"{catalog}/sites/anggana").json()["address"].endswith("(alamat diperbarui)")
    bad = {**site, "slug": "Anggana Baru", "kemendagri_code": "64-02-04"}
    response = httpx.put(f"{catalog}/admin/sites/Anggana%20Baru", json=bad, headers=admin)
    assert response.status_code == 422
    assert {"slug", "kemendagri_code"} <= {f["field"] for f in response.json()["error"]["fields"]}
