"""Service settings, read only from environment variables (twelve-factor, as the Helm chart sets them)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mpp_kit.kafka_security import SaslMechanism, SecurityProtocol
from mpp_kit.sealing import OptionalSealingKeys


class ServiceSettings(BaseSettings):
    """What every service needs. Services subclass it for their own settings."""

    # hide_input_in_errors: a refused setting may be a secret (a malformed key); the error names it, never shows it.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    service_name: str = "mpp"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # How every Kafka client connects (mpp_kit.kafka_security): PLAINTEXT locally; SASL_SSL with SCRAM in a cluster.
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    kafka_ssl_check_hostname: bool = True
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/postgres")
    # Connections the service's pool may open (they open as needed): at most this many transactions at once; a
    # request beyond waits for one. Every replica of every service counts against PostgreSQL's max_connections.
    database_pool_size: int = Field(default=10, ge=2, le=200)
    http_host: str = "0.0.0.0"  # noqa: S104 - containers listen on all interfaces; the Service fronts them
    http_port: int = 8000
    log_level: str = "INFO"
    # Keys that seal the applicant's phone number inside events: `kid:base64key,...`, the first seals (see
    # mpp_kit.sealing). A secret. A service that seals or opens phone numbers declares it `SealingKeys` (required).
    contact_sealing_key: OptionalSealingKeys = SecretStr("")
    # Consumers: a message that fails this many times goes to <topic>.dlq.
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    consumer_retry_backoff_s: float = Field(default=0.2, ge=0)
    # Outbox relay: polling fallback when no NOTIFY arrives, and how long a claimed row stays leased.
    outbox_poll_interval_s: float = Field(default=1.0, gt=0)
    outbox_lease_s: float = Field(default=30.0, gt=0)
    # How long the relay, woken by a writer, waits for the writers of the same moment before its pass: the price
    # of fewer commits under load (bench/pipeline.py) is this much latency per hop.
    outbox_linger_s: float = Field(default=0.05, ge=0, le=1)
    # Largest HTTP request body accepted, in bytes.
    http_max_body_bytes: int = Field(default=64 * 1024, ge=1)
    # Continue the trace of a caller's `traceparent` (true only for services called by our own services).
    trust_inbound_traceparent: bool = False
    # Serve /metrics, /docs and /openapi.json on this port only (not on the public one); unset: on the public one.
    internal_port: int | None = Field(default=None, ge=1, le=65535)
    internal_host: str | None = None  # default: http_host

    @model_validator(mode="after")
    def _kafka_credentials_given(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs KAFKA_SASL_USERNAME and "
                "KAFKA_SASL_PASSWORD"
            )
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ValueError("KAFKA_SSL_KEYFILE is given without KAFKA_SSL_CERTFILE")
        return self
