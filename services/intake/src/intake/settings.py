from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import Field, SecretStr, field_validator

from intake.domain import OperatorRole, role_of_claim, static_role
from mpp_kit.auth import SignedTokenVerifier
from mpp_kit.forwarded import Cidrs, Network, parse_networks
from mpp_kit.sealing import SealingKeys
from mpp_kit.settings import ServiceSettings


@dataclass(frozen=True)
class Operator:
    """Who acts through the operator API: a name (recorded with each change) bound to one site, and their role
    (a supervisor may also do what cannot be undone: cancel an application, erase its personal data)."""

    name: str
    site_id: str
    role: OperatorRole = "operator"


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    # The site this deployment serves (one intake deployment per site), e.g. `loa-kulu` or `mpp-tenggarong`.
    site_id: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    # The NIK key (only intake holds it) and the contact key: keyrings (`kid:base64key,...`; the first seals),
    # required, so a missing or malformed key stops the start with the setting's name, not the first submit.
    nik_encryption_key: SealingKeys
    contact_sealing_key: SealingKeys
    # How long a stored Idempotency-Key answer is replayed; after that the key may be used again.
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    # Key of the HMACs intake stores instead of the values (verification codes, idempotency request hashes,
    # client addresses and tracking codes of the rate limits). A secret; empty: derived from NIK_ENCRYPTION_KEY.
    intake_hashing_key: SecretStr = SecretStr("")
    # Online applications: the one-time code texted to the phone, how long it is valid and how many tries it has.
    verification_valid_minutes: int = Field(default=10, ge=1, le=60)
    verification_max_attempts: int = Field(default=5, ge=1, le=20)
    # Public endpoints, per client address and fixed window (shared by the replicas through the database):
    # anonymous submits, verification attempts and tracking lookups.
    rate_limit_window_s: int = Field(default=60, ge=1)
    rate_limit_submits: int = Field(default=5, ge=1)
    rate_limit_verifications: int = Field(default=10, ge=1)
    rate_limit_tracking: int = Field(default=20, ge=1)
    # Asking for the code again (each one an SMS): per client address in the same windows, and per application
    # at most `verification_max_resends` times, `verification_resend_interval_s` apart.
    rate_limit_resends: int = Field(default=5, ge=1)
    verification_max_resends: int = Field(default=3, ge=0, le=10)
    verification_resend_interval_s: int = Field(default=60, ge=1)
    # The addresses of our own proxies in front of intake (the web's pods, the ingress), as CIDRs separated by
    # commas (`10.42.0.0/16,fd00::/8`; a bare address is one host). From a peer inside them the client address
    # of the rate limits is taken from X-Forwarded-For (the right-most entry not in them); from any other peer
    # the header is ignored. Empty: every peer is the client. Intake runs with uvicorn's `--no-proxy-headers`,
    # so the peer is the real one.
    trusted_proxy_cidrs: Cidrs = ""
    # A tracking code asked with wrong phone digits this many times is locked for `tracking_lock_minutes`.
    tracking_max_failures: int = Field(default=5, ge=1)
    tracking_lock_minutes: int = Field(default=30, ge=1)
    # Personal fields (name, NIK, phone, documents) of closed applications are purged after this many days.
    personal_data_retention_days: float = Field(default=90.0, gt=0)
    retention_interval_s: float = Field(default=3600.0, gt=0)

    def hashing_key(self) -> bytes:
        own = self.intake_hashing_key.get_secret_value()
        if own:
            return own.encode()
        # Derived, never the NIK key itself: an HMAC key and an encryption key stay distinct.
        return hashlib.sha256(
            b"intake-hashing/" + self.nik_encryption_key.get_secret_value().encode()
        ).digest()

    # Operators, as `name:token` (an operator of this site) or `name@site:token` (an operator bound to that site)
    # pairs separated by commas; `#supervisor` after the name (`name#supervisor:token`,
    # `name@site#supervisor:token`) makes it a supervisor's (`#operator` is the default). A secret. An operator
    # sees only the applications of the site their credential is bound to: here, another site's operator finds
    # nothing (404), never a hint that something exists. An unknown role stops the start.
    operator_tokens: SecretStr = SecretStr("")
    # Signed, short-lived operator tokens (JWT: `sub` the operator, `site` their site, `role`), minted by the
    # counter console or by an identity provider: its public key (PEM; EdDSA, RS256 or ES256), the issuer and the
    # audience it writes. No key: only the static tokens above are accepted.
    intake_token_public_key: str = ""
    intake_token_issuer: str = "mpp-web"  # noqa: S105 - a name, not a secret
    intake_token_audience: str = "mpp-intake"  # noqa: S105 - a name, not a secret
    # The claim naming the operator's site (an identity provider may map it under another name).
    intake_token_site_claim: str = "site"  # noqa: S105 - a name, not a secret

    @field_validator("operator_tokens")
    @classmethod
    def _roles_known(cls, value: SecretStr) -> SecretStr:
        _static_operators(value.get_secret_value(), "")
        return value

    def operators(self) -> dict[str, Operator]:
        """token -> operator."""
        return _static_operators(self.operator_tokens.get_secret_value(), self.site_id)

    def trusted_proxies(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxy_cidrs)

    def token_verifier(self) -> SignedTokenVerifier:
        return SignedTokenVerifier(
            self.intake_token_public_key, self.intake_token_issuer, self.intake_token_audience
        )

    def signed_operator(self, claims: dict[str, Any] | None) -> Operator | None:
        """The operator a verified signed token names, bound to the site it names (another site's token then
        finds nothing here: 404, as a static token bound elsewhere). A token without a site is refused."""
        if claims is None:
            return None
        site = claims.get(self.intake_token_site_claim)
        name = claims.get("name") or claims["sub"]
        if not isinstance(site, str) or not site or not isinstance(name, str):
            return None
        # Only the exact claim "supervisor" is one: anything else (missing, misspelt, another IdP's role) is an
        # operator, never more.
        return Operator(name, site, role_of_claim(claims.get("role")))


def _static_operators(text: str, site_id: str) -> dict[str, Operator]:
    """`name[@site][#role]:token,...` -> token -> operator; ValueError on an unknown role (never silently an
    operator: whoever wrote `#supervsior` meant something)."""
    found: dict[str, Operator] = {}
    for pair in text.split(","):
        who, _, token = pair.strip().partition(":")
        who, _, role = who.partition("#")
        name, _, site = who.partition("@")
        if token and name:
            found[token] = Operator(name, site or site_id, static_role(role, name))
    return found
