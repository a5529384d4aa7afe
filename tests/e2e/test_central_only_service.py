"""Flow 2 (docs/architecture.md): at Mini MPP Tabang an applicant pre-registers a new passport.

Imigrasi is central-only (biometric photo): routing books the next free slot at the central MPP within the
agency's schedule (Monday and Wednesday from 08:00) and forwards the case to the central site's inbox; the
applicant is texted the date, time, place and what to bring.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import httpx
from aiokafka import AIOKafkaConsumer

from mpp_devstack.platform import Platform
from tests.e2e.conftest import counter, provided_checklist


def test_passport_at_tabang_is_booked_at_the_central_mpp_and_the_applicant_told_when_and_where(
    platform: Platform,
) -> None:
    answer = httpx.post(
        f"{platform.url('intake-tabang')}/applications",
        json={
            "service_code": "IMIGRASI-PASPOR-BARU",
            "channel": "counter",
            "applicant": {"name": "Rahmat Hidayat", "nik": "6402121505880003", "phone": "0813-5000-2001"},
            "checklist": provided_checklist(platform, "IMIGRASI-PASPOR-BARU"),
        },
        headers=counter(platform, "tabang"),
    )
    assert answer.status_code == 201, answer.text
    tracking = answer.json()["tracking_code"]

    forwarded = asyncio.run(first_forwarded(platform, tracking))
    assert forwarded["origin_site_id"] == "tabang"
    assert forwarded["handling_site_id"] == "mpp-tenggarong"
    assert forwarded["central_only_reason"] == "biometrics"
    starts = datetime.fromisoformat(forwarded["appointment"]["starts_at"])
    assert starts.strftime("%a") in ("Mon", "Wed") and "08:00" <= starts.strftime("%H:%M") < "12:00"
    assert starts.utcoffset() == timedelta(hours=8)  # WITA

    sms = platform.wait_for_sms("+6281350002001")
    assert sms["body"].startswith(("Yth. Rahmat, datang", "Datang"))
    assert tracking in sms["body"] and "WITA" in sms["body"] and "Bawa" in sms["body"]
    assert ("Senin" in sms["body"]) or ("Rabu" in sms["body"])


async def first_forwarded(platform: Platform, tracking_code: str, timeout: float = 30) -> dict:
    consumer = AIOKafkaConsumer(
        "site.mpp-tenggarong.inbox.v1",
        bootstrap_servers=platform.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            while True:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for record in records:
                        event = json.loads(record.value)
                        if (
                            event["type"] == "application.forwarded"
                            and event["tracking_code"] == tracking_code
                        ):
                            return event
    finally:
        await consumer.stop()
