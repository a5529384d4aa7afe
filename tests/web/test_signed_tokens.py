"""Intake trusts the console through signed, short-lived tokens, checked as an OIDC relying party checks one:
signature by the configured public key, issuer, audience, expiry; the site it names bounds what the operator sees."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from intake.settings import IntakeSettings, Operator
from mpp_kit.auth import SignedTokenVerifier, bearer
from mpp_kit.errors import ApiError
from web.security import IntakeTokens
from web.security import Operator as ConsoleOperator


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": "mpp-web",
        "aud": "mpp-intake",
        "sub": "op-loa-kulu",
        "name": "Rina",
        "site": "loa-kulu",
        "role": "operator",
        "iat": now,
        "exp": now + 300,
        **overrides,
    }


@pytest.fixture
def verifier(key_pair: tuple[str, str]) -> SignedTokenVerifier:
    return SignedTokenVerifier(key_pair[1], "mpp-web", "mpp-intake")


def signed(key_pair: tuple[str, str], **overrides: Any) -> str:
    key = serialization.load_pem_private_key(key_pair[0].encode(), password=None)
    return jwt.encode(claims(**overrides), key, algorithm="EdDSA")  # type: ignore[arg-type]


def hand_made(secret: bytes, algorithm: str) -> str:
    def part(value: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = part({"alg": algorithm, "typ": "JWT"}) + b"." + part(claims())
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest() if secret else b""
    return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def test_the_consoles_token_is_accepted(key_pair: tuple[str, str], verifier: SignedTokenVerifier) -> None:
    token = IntakeTokens(key_pair[0], "mpp-web", "mpp-intake", 300).mint(
        ConsoleOperator("op-loa-kulu", "Rina", "operator", "loa-kulu")
    )
    found = verifier.claims(token)
    assert found is not None and found["site"] == "loa-kulu" and found["role"] == "operator"


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "someone-else"},
        {"aud": "mpp-catalog"},
        {"exp": int(time.time()) - 120, "iat": int(time.time()) - 400},
        {"exp": int(time.time()) + 86400},  # lives longer than a short-lived token may
    ],
    ids=["issuer", "audience", "expired", "too-long-lived"],
)
def test_a_token_failing_one_check_is_refused(
    key_pair: tuple[str, str], verifier: SignedTokenVerifier, overrides: dict[str, Any]
) -> None:
    assert verifier.claims(signed(key_pair, **overrides)) is None


def test_another_key_or_a_shared_secret_algorithm_is_refused(
    key_pair: tuple[str, str], verifier: SignedTokenVerifier
) -> None:
    other = ed25519.Ed25519PrivateKey.generate()
    assert verifier.claims(jwt.encode(claims(), other, algorithm="EdDSA")) is None
    # The public key used as an HMAC secret: the algorithm-confusion forgery (made by hand: PyJWT refuses to).
    assert verifier.claims(hand_made(key_pair[1].encode(), "HS256")) is None
    assert verifier.claims(hand_made(b"", "none")) is None
    assert verifier.claims("not.a.token") is None and verifier.claims("é.é.é") is None


def test_intake_binds_the_operator_to_the_site_the_token_names(key_pair: tuple[str, str]) -> None:
    settings = IntakeSettings(site_id="tabang", intake_token_public_key=key_pair[1])
    verifier = settings.token_verifier()
    assert settings.signed_operator(verifier.claims(signed(key_pair))) == Operator("Rina", "loa-kulu")
    assert settings.signed_operator(verifier.claims(signed(key_pair, site=None))) is None
    no_key = IntakeSettings(site_id="tabang")
    assert no_key.token_verifier().claims(signed(key_pair)) is None


def test_bearer_takes_static_tokens_and_signed_ones(
    key_pair: tuple[str, str], verifier: SignedTokenVerifier
) -> None:
    def from_signed(request: Request, token: str) -> str | None:
        found = verifier.claims(token)
        return f"signed:{found['sub']}" if found else None

    who = bearer(lambda r: {"static-token": "static"}, scheme_name="T", description="t", signed=from_signed)
    app = FastAPI()

    @app.exception_handler(ApiError)
    async def refused(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body.model_dump(), status_code=exc.status)

    @app.get("/me")
    def me(principal: str = Depends(who)) -> str:
        return principal

    client = TestClient(app)
    assert client.get("/me", headers={"Authorization": "Bearer static-token"}).json() == "static"
    token = signed(key_pair)
    assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).json() == "signed:op-loa-kulu"
    assert client.get("/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/me").status_code == 401
