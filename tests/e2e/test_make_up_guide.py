"""What `make up` prints is what a person copies first: its counter submit must work as printed."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from mpp_devstack.platform import Platform
from mpp_devstack.up import _explain


def test_the_printed_counter_submit_is_accepted(
    platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    _explain(platform)
    printed = capsys.readouterr().out
    url = re.search(r"curl -s -X POST (\S+/applications) ", printed)
    token = re.search(r"Authorization: Bearer ([^']+)'", printed)
    body = re.search(r"-d '(\{.*\})'", printed)
    assert url and token and body, printed
    answer = httpx.post(
        url.group(1),
        json=json.loads(body.group(1).replace("'\\''", "'")),
        headers={"Authorization": f"Bearer {token.group(1)}", "Idempotency-Key": "make-up-guide"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
