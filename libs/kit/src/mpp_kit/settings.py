"""Service settings, read only from environment variables (twelve-factor, as the Helm chart sets them)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service needs. Services subclass it for their own settings."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "mpp"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/postgres")
    http_host: str = "0.0.0.0"  # noqa: S104 - containers listen on all interfaces; the Service fronts them
    http_port: int = 8000
    log_level: str = "INFO"
    # Key that seals the applicant's phone number inside events (base64 of 32 bytes). A secret.
    contact_sealing_key: SecretStr = SecretStr("")
    # Consumers: a message that fails this many times goes to <topic>.dlq.
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    consumer_retry_backoff_s: float = Field(default=0.2, ge=0)
    # Outbox relay: polling fallback when no NOTIFY arrives, and how long a claimed row stays leased.
    outbox_poll_interval_s: float = Field(default=1.0, gt=0)
    outbox_lease_s: float = Field(default=30.0, gt=0)
    # Largest HTTP request body accepted, in bytes.
    http_max_body_bytes: int = 64 * 1024
