"""Intake on the real platform accepts the console's signed tokens for its own site only, as it does its static
operator tokens: another site's token finds nothing (404, no hint), a forged or expired one is 401."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from mpp_devstack.platform import Platform

pytestmark = pytest.mark.slow


def token(platform: Platform, site: str, lifetime_s: int = 120, key: object = None) -> str:
    now = int(time.time())
    signing_key = key or serialization.load_pem_private_key(
        platform.processes["web"].env["TOKEN_SIGNING_KEY"].encode(), password=None
    )
    claims = {
        "iss": "mpp-web",
        "aud": "mpp-intake",
        "sub": f"tester-{site}",
        "site": site,
        "role": "operator",
    }
    return jwt.encode({**claims, "iat": now, "exp": now + lifetime_s}, signing_key, algorithm="EdDSA")  # type: ignore[arg-type]


def test_intake_takes_signed_tokens_for_its_own_site_only(platform: Platform) -> None:
    submitted = httpx.post(
        f"{platform.url('intake-loa-kulu')}/applications",
        # A counter submit needs the site's operator credential.
        headers={
            "Idempotency-Key": uuid.uuid4().hex,
            "Authorization": f"Bearer {token(platform, 'loa-kulu')}",
        },
        json={
            "service_code": "DUKCAPIL-AKTA-LAHIR",
            "channel": "counter",
            "accept_incomplete": True,
            "applicant": {"name": "Uji Token", "nik": "6402024101900001", "phone": "0812-3456-0001"},
        },
        timeout=10,
    )
    assert submitted.status_code == 201, submitted.text
    path = f"/applications/{submitted.json()['application_id']}"

    def get(site_url: str, bearer: str) -> int:
        return httpx.get(
            f"{site_url}{path}", headers={"Authorization": f"Bearer {bearer}"}, timeout=10
        ).status_code

    loa_kulu, tabang = platform.url("intake-loa-kulu"), platform.url("intake-tabang")
    assert get(loa_kulu, token(platform, "loa-kulu")) == 200
    assert (
        get(loa_kulu, token(platform, "tabang")) == 404
    )  # Tabang's operator: the application does not exist
    assert get(tabang, token(platform, "tabang")) == 404
    assert get(loa_kulu, token(platform, "loa-kulu", lifetime_s=-60)) == 401  # expired
    assert get(loa_kulu, token(platform, "loa-kulu", key=ed25519.Ed25519PrivateKey.generate())) == 401
    assert get(loa_kulu, platform.operator_token("loa-kulu")) == 200  # the static tokens still work
