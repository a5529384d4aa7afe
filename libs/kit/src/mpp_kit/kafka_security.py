"""How every Kafka client of a service connects: the servers, TLS and SASL (SCRAM), built in one place.

The FastStream broker (consumers, DLQ publishes), the outbox relay's producer, the read models' consumers, the
topic admin and `mpp-dlq` all take a `KafkaConnection` made by `kafka_connection(settings)`, so a cluster that
asks for SASL_SSL gets it from every client or from none. The default stays PLAINTEXT (local broker, tests).

Settings (environment): `KAFKA_SECURITY_PROTOCOL` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL),
`KAFKA_SASL_MECHANISM` (SCRAM-SHA-256, SCRAM-SHA-512), `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD` (a secret),
`KAFKA_SSL_CAFILE` (the CA that signed the brokers' certificates; the system's CAs when unset),
`KAFKA_SSL_CERTFILE` and `KAFKA_SSL_KEYFILE` (a client certificate, for clusters that ask for one),
`KAFKA_SSL_CHECK_HOSTNAME` (true).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from faststream.security import BaseSecurity, SASLScram256, SASLScram512

if TYPE_CHECKING:
    from mpp_kit.settings import ServiceSettings

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class KafkaConnection:
    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    ssl_context: ssl.SSLContext | None = None

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.ssl_context is not None:
            options["ssl_context"] = self.ssl_context
        if self.uses_sasl:
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        return options

    def broker_security(self) -> BaseSecurity | None:
        """The same, as FastStream's KafkaBroker takes it (`security=`)."""
        if self.security_protocol == "PLAINTEXT":
            return None
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=self.ssl_context, use_ssl=True)
        scram = SASLScram256 if self.sasl_mechanism == "SCRAM-SHA-256" else SASLScram512
        return scram(
            self.sasl_username,
            self.sasl_password,
            ssl_context=self.ssl_context,
            use_ssl=self.security_protocol == "SASL_SSL",
        )


KafkaTarget = str | KafkaConnection  # a bare address list: PLAINTEXT (tests, the local broker)


def connection_of(target: KafkaTarget) -> KafkaConnection:
    return target if isinstance(target, KafkaConnection) else KafkaConnection(target)


def tls_context(
    cafile: str | None,
    certfile: str | None = None,
    keyfile: str | None = None,
    *,
    check_hostname: bool = True,
) -> ssl.SSLContext:
    """A client TLS context: server certificates verified (against `cafile`, else the system's CAs)."""
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = check_hostname
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    return context


def kafka_connection(settings: ServiceSettings) -> KafkaConnection:
    """The one place a service's Kafka connection is built from its settings."""
    protocol = settings.kafka_security_protocol
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = tls_context(
            settings.kafka_ssl_cafile,
            settings.kafka_ssl_certfile,
            settings.kafka_ssl_keyfile,
            check_hostname=settings.kafka_ssl_check_hostname,
        )
    return KafkaConnection(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        security_protocol=protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
    )
