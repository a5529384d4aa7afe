"""Sessions, CSRF tokens and the signed tokens the console hands intake.

- The session is a cookie holding a token signed with SESSION_SECRET (HS256: only the web reads it): who, role,
  site, expiry. Secure, HttpOnly, SameSite=Lax; nothing kept server-side.
- An online application waiting for its SMS code: its id, site and service in a cookie signed the same way
  (another purpose: neither token passes for the other), so the code page cannot be pointed at another
  application.
- CSRF: every visitor gets a random HttpOnly cookie; every form carries an HMAC of it under SESSION_SECRET, and a
  POST whose field does not match is refused. A page of another origin can neither read the cookie nor forge the
  field.
- Intake tokens: per call, a short-lived token signed with the private TOKEN_SIGNING_KEY (EdDSA or RS256) naming
  the operator, their site and role; intake verifies it with the public key as it would an identity provider's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from web.accounts import Account
from web.domain import Role

SESSION_COOKIE = "mpp_sesi"
CSRF_COOKIE = "mpp_csrf"
CSRF_FIELD = "csrf"
VERIFICATION_COOKIE = "mpp_verifikasi"
VERIFICATION_TTL_S = 3600  # longer than intake lets a code live (VERIFICATION_VALID_MINUTES, at most 60)


@dataclass(frozen=True)
class Operator:
    """The logged-in operator, as the session cookie says."""

    username: str
    name: str
    role: Role
    site: str


@dataclass(frozen=True)
class PendingVerification:
    """An online application intake holds as `awaiting_verification` until the applicant types the SMS code."""

    application_id: str
    site: str
    service_code: str
    phone_last4: str  # to say where the code went


class Sessions:
    def __init__(self, secret: str, ttl_s: int) -> None:
        if len(secret) < 16:
            raise ValueError("SESSION_SECRET must be at least 16 characters")
        self._key = secret.encode()
        self._ttl_s = ttl_s

    def issue(self, account: Account) -> str:
        now = int(time.time())
        claims = {
            "sub": account.username,
            "name": account.name,
            "role": account.role,
            "site": account.site,
            "iat": now,
            "exp": now + self._ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def read(self, cookie: str | None) -> Operator | None:
        if not cookie:
            return None
        try:
            claims = jwt.decode(cookie, self._key, algorithms=["HS256"], options={"require": ["exp", "sub"]})
        except (jwt.PyJWTError, ValueError):
            return None
        if "use" in claims:  # another purpose's token (a pending verification) is no session
            return None
        return Operator(claims["sub"], claims["name"], claims["role"], claims["site"])

    def issue_verification(self, pending: PendingVerification) -> str:
        now = int(time.time())
        claims = {
            "use": "verification",
            "application_id": pending.application_id,
            "site": pending.site,
            "service_code": pending.service_code,
            "phone_last4": pending.phone_last4,
            "iat": now,
            "exp": now + VERIFICATION_TTL_S,
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def read_verification(self, cookie: str | None) -> PendingVerification | None:
        if not cookie:
            return None
        try:
            claims = jwt.decode(cookie, self._key, algorithms=["HS256"], options={"require": ["exp", "use"]})
            if claims["use"] != "verification":
                return None
            return PendingVerification(
                str(claims["application_id"]),
                str(claims["site"]),
                str(claims["service_code"]),
                str(claims["phone_last4"]),
            )
        except (jwt.PyJWTError, ValueError, KeyError):
            return None

    def new_csrf_seed(self) -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, seed: str) -> str:
        return hmac.new(self._key, b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, seed: str | None, given: str | None) -> bool:
        if not seed or not given:
            return False
        return hmac.compare_digest(self.csrf_token(seed).encode(), given.encode("utf-8", "surrogateescape"))


class IntakeTokens:
    """Mints the operator's token for intake: EdDSA with an Ed25519 key, RS256 with an RSA key."""

    def __init__(self, private_key_pem: str, issuer: str, audience: str, ttl_s: int) -> None:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            self._algorithm = "EdDSA"
        elif isinstance(key, rsa.RSAPrivateKey):
            self._algorithm = "RS256"
        else:
            raise ValueError("TOKEN_SIGNING_KEY must be an Ed25519 or RSA private key (PEM)")
        self._key = key
        self._issuer, self._audience, self._ttl_s = issuer, audience, ttl_s

    def mint(self, operator: Operator) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": operator.username,
            "name": operator.name,
            "site": operator.site,
            "role": operator.role,
            "iat": now,
            "exp": now + self._ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm=self._algorithm)
