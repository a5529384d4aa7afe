from __future__ import annotations

from pydantic import Field, SecretStr

from mpp_kit.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    # The site this deployment serves (one intake deployment per site), e.g. `loa-kulu` or `mpp-tenggarong`.
    site_id: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    # Key that encrypts the NIK at rest (base64 of 32 bytes). Only intake holds it.
    nik_encryption_key: SecretStr = SecretStr("")
    # How long a stored Idempotency-Key answer is replayed; after that the key may be used again.
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    # Operators of this site, as `name:token` pairs separated by commas. A secret. Each intake deployment serves
    # one site and holds only its operators' tokens, so an operator can never reach another site's applications.
    operator_tokens: SecretStr = SecretStr("")

    def operators(self) -> dict[str, str]:
        """token -> operator name."""
        pairs = [p.strip() for p in self.operator_tokens.get_secret_value().split(",") if p.strip()]
        return {token: name for name, _, token in (p.partition(":") for p in pairs) if token}
