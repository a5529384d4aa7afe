"""The web as `create_app(settings)` builds it, against fakes of the catalogue and intake (tests/web/fakes.py).

Operators: `op-loa-kulu` (operator) and `spv-loa-kulu` (supervisor) at Loa Kulu, `op-tabang` at Tabang, `op-pusat`
at the central MPP; every password is `rahasia-<username>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi.testclient import TestClient

from mpp_kit.auth import SignedTokenVerifier
from tests.web.fakes import FakeCatalog, FakeIntake, Upstream
from web.accounts import hash_password
from web.app import create_app
from web.settings import WebSettings

ACCOUNTS = [
    ("op-loa-kulu", "Rina (Loa Kulu)", "operator", "loa-kulu"),
    ("spv-loa-kulu", "Budi (Loa Kulu)", "supervisor", "loa-kulu"),
    ("op-tabang", "Sari (Tabang)", "operator", "tabang"),
    ("op-pusat", "Andi (MPP)", "operator", "mpp-tenggarong"),
]


@pytest.fixture(scope="session")
def key_pair() -> tuple[str, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="session")
def accounts_json() -> str:
    return json.dumps(
        [
            {"username": u, "name": n, "role": r, "site": s, "password_hash": hash_password(f"rahasia-{u}")}
            for u, n, r, s in ACCOUNTS
        ]
    )


@pytest.fixture
def upstream(key_pair: tuple[str, str]) -> Upstream:
    verifier = SignedTokenVerifier(key_pair[1], "mpp-web", "mpp-intake")
    sites = ("mpp-tenggarong", "loa-kulu", "tabang")
    return Upstream(FakeCatalog(), {s: FakeIntake(s, verifier) for s in sites})


@pytest.fixture
def settings(key_pair: tuple[str, str], accounts_json: str) -> WebSettings:
    return WebSettings(
        catalog_url="http://catalog.test",
        intake_urls=",".join(f"{s}=http://intake-{s}.test" for s in ("mpp-tenggarong", "loa-kulu", "tabang")),
        session_secret="s" * 32,
        token_signing_key=key_pair[0],
        accounts=accounts_json,
    )


@pytest.fixture
def web(settings: WebSettings, upstream: Upstream) -> Iterator[TestClient]:
    app = create_app(settings, upstream=upstream.transport())
    # https: the cookies are Secure, as in production.
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]+)"')
KEY_RE = re.compile(r'name="kunci" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def log_in(web: TestClient, username: str) -> None:
    page = web.get("/masuk")
    answer = web.post(
        "/masuk", data={"csrf": csrf_of(page.text), "pengguna": username, "sandi": f"rahasia-{username}"}
    )
    assert answer.status_code == 303, answer.text
