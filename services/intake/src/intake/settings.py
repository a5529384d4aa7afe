from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, SecretStr

from mpp_kit.settings import ServiceSettings


@dataclass(frozen=True)
class Operator:
    """Who acts through the operator API: a name (recorded with each change) bound to one site."""

    name: str
    site_id: str


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    # The site this deployment serves (one intake deployment per site), e.g. `loa-kulu` or `mpp-tenggarong`.
    site_id: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    # Key that encrypts the NIK at rest (base64 of 32 bytes). Only intake holds it.
    nik_encryption_key: SecretStr = SecretStr("")
    # How long a stored Idempotency-Key answer is replayed; after that the key may be used again.
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    # Operators, as `name:token` (an operator of this site) or `name@site:token` (an operator bound to that site)
    # pairs separated by commas. A secret. An operator sees only the applications of the site their credential
    # is bound to: here, another site's operator finds nothing (404), never a hint that something exists.
    operator_tokens: SecretStr = SecretStr("")

    def operators(self) -> dict[str, Operator]:
        """token -> operator."""
        found: dict[str, Operator] = {}
        for pair in self.operator_tokens.get_secret_value().split(","):
            who, _, token = pair.strip().partition(":")
            name, _, site = who.partition("@")
            if token and name:
                found[token] = Operator(name, site or self.site_id)
        return found
