"""The SMS of what happens after the first one, every service a process on the real broker: a central appointment
moved and then given back (routing's events on `routing.decision.v1`, read by notify), and an application accepted
at the counter with requirements missing (intake's `incomplete`). Each SMS arrives once; the status changes that
routing's own events already text (forwarded, cancelled) send nothing more."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from mpp_devstack.platform import Platform
from tests.e2e.conftest import provided_checklist
from tests.e2e.test_flow2_result_comes_home import application, intake, operator, until

TABANG = "tabang"
CENTRAL_SERVICE = "DUKCAPIL-KTP-EL-HILANG"  # central-only (secure printing)
LOCAL_SERVICE = "DUKCAPIL-AKTA-LAHIR"
WITA = ZoneInfo("Asia/Makassar")


def submit(platform: Platform, service: str, phone: str, **extra: Any) -> dict[str, Any]:
    body = {
        "service_code": service,
        "channel": "counter",
        "applicant": {"name": "Yusuf Maulana", "nik": "6402125505880004", "phone": phone},
        "checklist": provided_checklist(platform, service),
        **extra,
    }
    answer = httpx.post(
        f"{intake(platform, TABANG)}/applications", json=body, headers=operator(platform, TABANG), timeout=10
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def bodies_when_settled(platform: Platform, e164: str, count: int) -> list[str]:
    until(lambda: len(platform.sms_to(e164)) >= count, f"{count} SMS to the applicant")
    time.sleep(3)  # anything more would have arrived by now
    return [m["body"] for m in platform.sms_to(e164)]


def test_a_moved_then_cancelled_appointment_is_texted_once_each(platform: Platform) -> None:
    e164 = "+6281350004001"
    accepted = submit(platform, CENTRAL_SERVICE, "0813-5000-4001")
    application_id, tracking = accepted["application_id"], accepted["tracking_code"]
    forwarded = until(
        lambda: (a := application(platform, TABANG, application_id))["status"] == "forwarded" and a,
        "forwarded with an appointment",
    )
    first_day = datetime.fromisoformat(forwarded["appointment"]["starts_at"]).astimezone(WITA).date()
    platform.wait_for_sms(e164)

    moved = httpx.post(
        f"{intake(platform, TABANG)}/applications/{application_id}/reschedule",
        json={"not_before": (first_day + timedelta(days=7)).isoformat(), "reason": "bentrok jadwal kerja"},
        headers=operator(platform, TABANG),
        timeout=5,
    )
    assert moved.status_code == 202, moved.text
    bodies = bodies_when_settled(platform, e164, 2)
    assert len(bodies) == 2, bodies
    assert (
        bodies[1].startswith(("Yth. Yusuf, jadwal dipindah: ", "Jadwal dipindah: ")) and tracking in bodies[1]
    )
    new_day = until(
        lambda: (
            (a := application(platform, TABANG, application_id))["appointment"]["starts_at"]
            != (forwarded["appointment"]["starts_at"])
            and a
        ),
        "the new appointment at Tabang",
    )["appointment"]["starts_at"]
    assert date.fromisoformat(new_day[:10]) >= first_day + timedelta(days=7)

    cancelled = httpx.post(
        f"{intake(platform, TABANG)}/applications/{application_id}/cancel",
        json={"reason": "pemohon membatalkan"},
        headers={"Authorization": f"Bearer {platform.supervisor_token(TABANG)}"},  # a supervisor's action
        timeout=5,
    )
    assert cancelled.status_code == 200, cancelled.text
    bodies = bodies_when_settled(platform, e164, 3)
    assert len(bodies) == 3, bodies
    assert bodies[2].endswith(f"{tracking} dibatalkan.") and "MPP" in bodies[2]


def test_an_incomplete_application_is_told_what_is_missing(platform: Platform) -> None:
    e164 = "+6281350004002"
    missing = provided_checklist(platform, LOCAL_SERVICE)[0]["requirement"]
    checklist = provided_checklist(platform, LOCAL_SERVICE)[1:]
    accepted = submit(platform, LOCAL_SERVICE, "0813-5000-4002", checklist=checklist, accept_incomplete=True)
    assert accepted["status"] == "incomplete"
    bodies = bodies_when_settled(platform, e164, 2)
    assert len(bodies) == 2, bodies
    (incomplete,) = [b for b in bodies if "belum lengkap" in b]
    assert accepted["tracking_code"] in incomplete and "Tabang" in incomplete
    assert missing.split(" (")[0] in incomplete or "persyaratan" in incomplete
