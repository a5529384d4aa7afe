"""Bearer-token authentication as a FastAPI dependency.

A route declares `Depends(bearer(...))`; FastAPI solves dependencies before it validates the body, so a caller
without a credential gets 401, never a 422 about a body it had no right to send. Tokens are compared as bytes
in constant time: a header with non-ASCII characters is an unknown token, not a crash.

A route may also accept signed, short-lived tokens (JWT) checked as an OIDC relying party checks an ID or access
token: signature by a configured public key (asymmetric algorithms only), issuer, audience, expiry. The console
mints them today; an identity provider (Keycloak...) can mint them instead by configuration alone.
"""

# No `from __future__ import annotations`: FastAPI must see the local `scheme` in the dependency's signature.
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mpp_kit.errors import unauthorized

P = TypeVar("P")


def find_principal(given: str | None, tokens: Mapping[str, P]) -> P | None:
    """The principal whose token equals `given` (every token compared, so timing tells nothing)."""
    if not given:
        return None
    given_bytes = given.encode("utf-8", "surrogateescape")
    found: P | None = None
    for token, principal in tokens.items():
        if token and hmac.compare_digest(given_bytes, token.encode("utf-8")):
            found = principal
    return found


# Asymmetric only: with a shared-secret algorithm (HS256) whoever verifies could also mint, and a public key
# passed as an HMAC secret is the classic algorithm-confusion forgery.
SIGNED_TOKEN_ALGORITHMS = ("EdDSA", "RS256", "ES256")


@dataclass(frozen=True)
class SignedTokenVerifier:
    """Checks a signed token (JWT) as an OIDC relying party would and answers its claims, or None.

    Required: a valid signature by `public_key` (PEM) with one of `algorithms`, `iss` == `issuer`, `aud` holding
    `audience`, `exp` in the future and `iat`, `sub` present; a token living longer than `max_lifetime_s` is
    refused too, so a leaked one is worth little. `leeway_s` absorbs clock skew between hosts.
    """

    public_key: str
    issuer: str
    audience: str
    algorithms: tuple[str, ...] = SIGNED_TOKEN_ALGORITHMS
    leeway_s: int = 30
    max_lifetime_s: int = 900

    def claims(self, token: str) -> dict[str, Any] | None:
        if not self.public_key or token.count(".") != 2:
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.public_key,
                algorithms=[a for a in self.algorithms if a in SIGNED_TOKEN_ALGORITHMS],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None  # bad signature, expired, wrong issuer or audience, malformed, unreadable key
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("iat"), int | float):
            return None
        if claims["exp"] - claims["iat"] > self.max_lifetime_s:
            return None
        return claims


def bearer(
    tokens: Callable[[Request], Mapping[str, P]],
    *,
    scheme_name: str,
    description: str,
    signed: Callable[[Request, str], P | None] | None = None,
) -> Callable[..., Awaitable[P]]:
    """A dependency answering the principal (a name, a role...) of the bearer token, or raising 401.

    `tokens(request)` maps each accepted token to its principal. It takes the request so that a module-level
    router can reach the app's settings (`request.app.state...`); it is called per request. `signed(request,
    token)`, when given, answers the principal of a token that is none of those (a signed token, checked with a
    `SignedTokenVerifier`), or None.
    """
    scheme = HTTPBearer(auto_error=False, scheme_name=scheme_name, description=description)

    async def principal(  # async def: FastAPI runs a plain def dependency in its thread pool
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(scheme)],
    ) -> P:
        given = credentials.credentials if credentials else None
        found = find_principal(given, tokens(request))
        if found is None and given and signed is not None:
            found = signed(request, given)
        if found is None:
            raise unauthorized(f"a valid bearer token is required ({description})")
        return found

    return principal
