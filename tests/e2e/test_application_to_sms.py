"""DESIGN.md flow 1, end to end, with every service a separate process on the real broker and database.

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
        },
        headers={"Idempotency-Key": "e2e-local-1"},
    )
    assert answer.status_code == 201, answer.text
    application = answer.json()
    assert application["site_id"] == "loa-kulu" and application["queue_ticket"].startswith("A-")

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
    body = {"service_code": "DUKCAPIL-AKTA-LAHIR", "applicant": {**APPLICANT, "phone": "0812-3456-1002"}}
    url = f"{platform.url('intake-tabang')}/applications"
    first = httpx.post(url, json=body, headers={"Idempotency-Key": "retry-me"})
    second = httpx.post(url, json=body, headers={"Idempotency-Key": "retry-me"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    platform.wait_for_sms("+6281234561002")
    time.sleep(1.5)
    assert len(platform.sms_to("+6281234561002")) == 1
