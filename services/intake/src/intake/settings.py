from __future__ import annotations

from pydantic import Field, SecretStr

from mpp_kit.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    # The site this deployment serves (one intake deployment per site), e.g. `loa-kulu` or `mpp-tenggarong`.
    site_id: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    # Key that encrypts the NIK at rest (base64 of 32 bytes). Only intake holds it.
    nik_encryption_key: SecretStr = SecretStr("")
    # How long a stored Idempotency-Key answer is replayed.
    idempotency_ttl_hours: int = 24
