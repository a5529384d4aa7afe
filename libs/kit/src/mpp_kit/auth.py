"""Bearer-token authentication as a FastAPI dependency.

A route declares `Depends(bearer(...))`; FastAPI solves dependencies before it validates the body, so a caller
without a credential gets 401, never a 422 about a body it had no right to send. Tokens are compared as bytes
in constant time: a header with non-ASCII characters is an unknown token, not a crash.
"""

# No `from __future__ import annotations`: FastAPI must see the local `scheme` in the dependency's signature.
import hmac
from collections.abc import Callable, Mapping
from typing import Annotated, TypeVar

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


def bearer(
    tokens: Callable[[Request], Mapping[str, P]], *, scheme_name: str, description: str
) -> Callable[..., P]:
    """A dependency answering the principal (a name, a role...) of the bearer token, or raising 401.

    `tokens(request)` maps each accepted token to its principal. It takes the request so that a module-level
    router can reach the app's settings (`request.app.state...`); it is called per request.
    """
    scheme = HTTPBearer(auto_error=False, scheme_name=scheme_name, description=description)

    def principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(scheme)],
    ) -> P:
        found = find_principal(credentials.credentials if credentials else None, tokens(request))
        if found is None:
            raise unauthorized(f"a valid bearer token is required ({description})")
        return found

    return principal
