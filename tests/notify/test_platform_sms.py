"""Notify end to end: intake -> routing -> notify -> sandbox provider -> delivery report, every service a real
process on the real broker and database. The sandbox's special numbers end in the right statuses, a declined
consent sends nothing, the ops API shows it all (phone masked), and Twilio's signed status callback works
against the running service."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from mpp_devstack.platform import Platform
from notify.providers.twilio import signature, with_reference

pytestmark = pytest.mark.slow

NIK = "6402024101900001"


SERVICE = "DUKCAPIL-AKTA-LAHIR"


def complete_checklist(platform: Platform) -> list[dict[str, str]]:
    """Every mandatory requirement of the service, provided in the form the catalogue asks for."""
    service = httpx.get(f"{platform.url('catalog')}/services/{SERVICE}", timeout=10).json()
    return [
        {"requirement": r["name"], "provided": r["form"]}
        for r in service["requirements"]
        if not r.get("optional")
    ]


def submit(platform: Platform, phone: str, *, consent: bool = True) -> dict[str, Any]:
    answer = httpx.post(
        f"{platform.url('intake-loa-kulu')}/applications",
        json={
            "service_code": SERVICE,
            "channel": "counter",
            "applicant": {"name": "Siti Aminah", "nik": NIK, "phone": phone},
            "sms_consent": consent,
            "checklist": complete_checklist(platform),
        },
        headers={"Authorization": f"Bearer {platform.operator_token('loa-kulu')}"},  # a counter submit
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def ops(platform: Platform, token: str, path: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{platform.url('notify')}{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def wait_for_status(
    platform: Platform, token: str, application_id: str, wanted: set[str], timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen: list[Any] = []
    while time.monotonic() < deadline:
        seen = ops(platform, token, "/messages", application_id=application_id).json()["messages"]
        if seen and seen[0]["status"] in wanted:
            return dict(seen[0])
        time.sleep(0.2)
    raise AssertionError(f"SMS of {application_id} never reached {wanted}: {seen}")


@pytest.mark.parametrize(
    ("phone", "status", "error", "at_sandbox"),
    [
        ("0812-9978-1001", "delivered", None, 1),
        ("0812-9978-0002", "permanent_failure", "21211", 0),  # refused at send as an invalid number
        ("0812-9978-0003", "temporary_failure", "30003", 1),  # accepted, then reported undelivered
    ],
)
def test_special_numbers_end_in_the_right_status(
    platform: Platform,
    platform_secrets: dict[str, str],
    phone: str,
    status: str,
    error: str | None,
    at_sandbox: int,
) -> None:
    token = platform_secrets["notify_ops_token"]
    application = submit(platform, phone)
    message = wait_for_status(platform, token, application["application_id"], {status})
    assert message["last_error"] == error
    assert message["template"] == "permohonan_diterima" and message["segments"] == 1
    assert message["provider"] == "twilio"
    e164 = "+62" + phone.replace("-", "")[1:]
    assert message["phone_masked"] == "+62********" + e164[-3:]
    assert len(platform.sms_to(e164)) == at_sandbox

    one = ops(platform, token, f"/messages/{message['id']}")
    assert one.status_code == 200 and one.json() == message
    assert e164 not in one.text and NIK not in one.text and "body" not in one.json()
    assert ops(platform, "wrong", f"/messages/{message['id']}").status_code == 401


def test_declined_consent_sends_nothing(platform: Platform, platform_secrets: dict[str, str]) -> None:
    token = platform_secrets["notify_ops_token"]
    application = submit(platform, "0812-9978-2001", consent=False)
    message = wait_for_status(platform, token, application["application_id"], {"declined"})
    assert message["phone_masked"] is None and message["provider"] is None
    time.sleep(1)
    assert platform.sms_to("+6281299782001") == []


def test_signed_twilio_status_callback_reaches_the_running_service(
    platform: Platform, platform_secrets: dict[str, str]
) -> None:
    """What Twilio itself would post to the StatusCallback notify gives it: a late `undelivered` for a delivered
    SMS changes nothing, and an unsigned callback is refused."""
    token = platform_secrets["notify_ops_token"]
    application = submit(platform, "0812-9978-3001")
    message = wait_for_status(platform, token, application["application_id"], {"delivered"})
    callback = with_reference(f"{platform.url('notify')}/delivery-reports/twilio", message["id"])
    form = {
        "MessageSid": message["provider_message_id"],
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
    }
    headers = {"X-Twilio-Signature": signature("sandbox-token", callback, form.items())}
    answer = httpx.post(
        callback,
        content=urlencode(form),
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert httpx.post(callback, data=form).status_code == 403
    assert ops(platform, token, f"/messages/{message['id']}").json()["status"] == "delivered"
