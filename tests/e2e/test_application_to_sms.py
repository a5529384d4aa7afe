"""Flow 1 (docs/architecture.md), end to end, with every service a separate process on the real broker and database.

An operator at Mini MPP Loa Kulu submits "Akta Kelahiran"; routing keeps it local; notify texts the applicant
through the sandbox provider, which reports it delivered. One trace spans intake to the provider call.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import asyncpg
import httpx

from mpp_devstack.platform import Platform
from tests.e2e.conftest import counter, provided_checklist

APPLICANT = {"name": "Siti Aminah", "nik": "6402024101900001", "phone": "0812-3456-0001"}


def trace_id(traceparent: str) -> str:
    return traceparent.split("-")[1]


def test_counter_application_for_a_local_service_ends_as_one_delivered_sms(platform: Platform) -> None:
    phone = "0812-3456-1001"
    answer = httpx.post(
        f"{platform.url('intake-loa-kulu')}/applications",
        json={
            "service_code": "DUKCAPIL-AKTA-LAHIR",
            "channel": "counter",
            "applicant": {**APPLICANT, "phone": phone},
            "checklist": provided_checklist(platform, "DUKCAPIL-AKTA-LAHIR"),
        },
        headers=counter(platform, "loa-kulu", **{"Idempotency-Key": "e2e-local-1"}),
    )
    assert answer.status_code == 201, answer.text
    application = answer.json()
    assert application["site_id"] == "loa-kulu" and application["queue_ticket"].startswith("DUK-")

    sms = platform.wait_for_sms("+6281234561001")
    assert sms["body"].startswith(
        "Yth. Siti, permohonan Penerbitan Akta Kelahiran diterima di Mini MPP Kecamatan Loa Kulu."
    )
    assert f"Kode lacak {application['tracking_code']}." in sms["body"]
    assert "Perkiraan selesai" in sms["body"]
    assert APPLICANT["nik"] not in sms["body"] and "Aminah" not in sms["body"]
    assert sms["reference"], "our message id travels as the provider reference"

    # One trace from the HTTP submit to the provider call, across intake, routing and notify.
    submitted_trace = trace_id(answer.headers["traceparent"])
    assert trace_id(sms["headers"]["traceparent"]) == submitted_trace
    spans = [json.loads(line) for line in Path(platform.workdir, "spans.jsonl").read_text().splitlines()]
    services_in_trace = {s["service"] for s in spans if s["trace_id"] == submitted_trace}
    assert {"intake", "routing", "notify"} <= services_in_trace

    # The sandbox's delivery report reached notify's webhook: the message ends delivered, and only one was sent.
    status = asyncio.run(sms_status(platform, sms["reference"]))
    assert status == "delivered"
    assert len(platform.sms_to("+6281234561001")) == 1


async def sms_status(platform: Platform, message_id: str, timeout: float = 15.0) -> str:
    base, _, _ = platform.pg_admin_dsn.rpartition("/")
    conn = await asyncpg.connect(f"{base}/{platform.db_prefix}_notify")
    try:
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            status = await conn.fetchval("SELECT status FROM sms_message WHERE id = $1::uuid", message_id)
            if status == "delivered":
                break
            await asyncio.sleep(0.2)
        return status
    finally:
        await conn.close()


def test_retried_submit_with_the_same_idempotency_key_gets_the_first_answer_and_one_sms(
    platform: Platform,
) -> None:
    body = {
        "service_code": "DUKCAPIL-AKTA-LAHIR",
        "applicant": {**APPLICANT, "phone": "0812-3456-1002"},
        "checklist": provided_checklist(platform, "DUKCAPIL-AKTA-LAHIR"),
    }
    url = f"{platform.url('intake-tabang')}/applications"
    headers = counter(platform, "tabang", **{"Idempotency-Key": "retry-me"})
    first = httpx.post(url, json=body, headers=headers)
    second = httpx.post(url, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    platform.wait_for_sms("+6281234561002")
    time.sleep(1.5)
    assert len(platform.sms_to("+6281234561002")) == 1


def test_operator_marks_it_ready_and_the_applicant_is_told_where_to_collect(platform: Platform) -> None:
    site = platform.url("intake-loa-kulu")
    operator = {"Authorization": f"Bearer {platform.operator_token('loa-kulu')}"}
    accepted = httpx.post(
        f"{site}/applications",
        json={
            "service_code": "DUKCAPIL-AKTA-LAHIR",
            "applicant": {**APPLICANT, "phone": "0812-3456-1003"},
            "checklist": provided_checklist(platform, "DUKCAPIL-AKTA-LAHIR"),
        },
        headers=operator,
    ).json()
    platform.wait_for_sms("+6281234561003")  # received

    url = f"{site}/applications/{accepted['application_id']}"
    assert httpx.post(f"{url}/status", json={"status": "ready_for_pickup"}).status_code == 401
    other_site = {"Authorization": f"Bearer {platform.operator_token('tabang')}"}
    assert (
        httpx.post(f"{url}/status", json={"status": "ready_for_pickup"}, headers=other_site).status_code
        == 401
    )
    tabang_copy = f"{platform.url('intake-tabang')}/applications/{accepted['application_id']}"
    assert httpx.get(tabang_copy, headers=other_site).status_code == 404, "another site cannot read it"

    seen = httpx.get(url, headers=operator).json()
    assert (
        seen["nik_last4"] == "0001" and "nik" not in seen and seen["status"] in ("submitted", "routed_local")
    )  # routing may have decided already
    ready = httpx.post(f"{url}/status", json={"status": "ready_for_pickup"}, headers=operator)
    assert ready.status_code == 200 and ready.json()["status"] == "ready_for_pickup"
    again = httpx.post(f"{url}/status", json={"status": "in_progress"}, headers=operator)
    assert again.status_code == 409
    assert again.json()["error"]["fields"] == [
        {"field": "status", "reason": "allowed from ready_for_pickup: completed"}
    ]

    deadline = time.monotonic() + 30
    while len(platform.sms_to("+6281234561003")) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    pickup = platform.sms_to("+6281234561003")[-1]["body"]
    assert pickup == (
        f"Yth. Siti, dokumen Penerbitan Akta Kelahiran Anda (kode {accepted['tracking_code']}) sudah selesai. "
        "Silakan ambil di Mini MPP Kecamatan Loa Kulu."
    )


def test_rejection_needs_a_reason(platform: Platform) -> None:
    site = platform.url("intake-loa-kulu")
    operator = {"Authorization": f"Bearer {platform.operator_token('loa-kulu')}"}
    accepted = httpx.post(
        f"{site}/applications",
        json={
            "service_code": "DUKCAPIL-AKTA-LAHIR",
            "applicant": {**APPLICANT, "phone": "0812-3456-1004"},
            "checklist": provided_checklist(platform, "DUKCAPIL-AKTA-LAHIR"),
        },
        headers=operator,
    ).json()
    url = f"{site}/applications/{accepted['application_id']}/status"
    refused = httpx.post(url, json={"status": "rejected"}, headers=operator)
    assert refused.status_code == 422 and refused.json()["error"]["fields"][0]["field"] == "note"
    assert (
        httpx.post(
            url, json={"status": "rejected", "note": "surat keterangan lahir belum ada"}, headers=operator
        ).status_code
        == 200
    )
