"""Every log line the platform wrote (each process's log under the platform's workdir), after the end-to-end tests
that ran before in the session and a few flows of its own: no 16-digit run (a NIK) and no full Indonesian mobile
number, whatever the process (services, their libraries, uvicorn, the sandbox provider)."""

from __future__ import annotations

import json
import re
import time

import httpx

from mpp_devstack.platform import Platform
from tests.e2e.conftest import counter, provided_checklist, track

NIK = "6402024101900001"
SERVICE = "DUKCAPIL-AKTA-LAHIR"
_ALNUM = "0-9A-Za-z"
# A 16-digit run not inside a longer run of letters and digits (a trace id may hold one).
SIXTEEN_DIGITS = re.compile(rf"(?<![{_ALNUM}])\d{{16}}(?![{_ALNUM}])")
# 08..., 628..., +628..., with spaces, dashes or dots between the digits.
MOBILE = re.compile(rf"(?<![{_ALNUM}+])(?:\+62|62|0)[ .-]?8(?:[ .-]?\d){{8,11}}(?![{_ALNUM}])")
UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
IDENTIFIER_FIELDS = ("trace_id", "span_id", "parent_id")


def scanned(line: str) -> str:
    """The line without what holds identifiers only (trace and span ids, UUIDs)."""
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if isinstance(record, dict):
        line = json.dumps({k: v for k, v in record.items() if k not in IDENTIFIER_FIELDS}, ensure_ascii=False)
    return UUID.sub("<uuid>", line)


def flows(platform: Platform) -> None:
    """An online application with its code, a counter one, tracking with wrong digits: values worth leaking."""
    applicant = {"name": "Rina Kartika", "nik": NIK, "phone": "0812-3456-6101"}
    online = httpx.post(
        f"{platform.url('intake-loa-kulu')}/applications",
        json={
            "service_code": SERVICE,
            "channel": "online",
            "applicant": applicant,
            "checklist": provided_checklist(platform, SERVICE),
        },
        timeout=10,
    )
    assert online.status_code == 201, online.text
    at_counter = httpx.post(
        f"{platform.url('intake-tabang')}/applications",
        json={
            "service_code": SERVICE,
            "applicant": {**applicant, "phone": "+62 812 3456 6102"},
            "checklist": provided_checklist(platform, SERVICE),
        },
        headers=counter(platform, "tabang"),
        timeout=10,
    )
    assert at_counter.status_code == 201, at_counter.text
    assert track(platform, "tabang", at_counter.json()["tracking_code"], "0000").status_code == 404
    platform.wait_for_sms("+6281234566101")
    platform.wait_for_sms("+6281234566102")
    time.sleep(1.0)  # the delivery reports and their log lines


def test_no_log_line_of_the_platform_holds_a_nik_or_a_mobile_number(platform: Platform) -> None:
    flows(platform)
    logs = sorted(platform.workdir.glob("*.log"))
    assert logs, f"no process log under {platform.workdir}"
    leaks: list[str] = []
    for path in logs:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            text = scanned(line)
            if SIXTEEN_DIGITS.search(text) or MOBILE.search(text):
                leaks.append(f"{path.name}:{number}: {line[:300]}")
    assert not leaks, "\n".join(leaks[:20])
