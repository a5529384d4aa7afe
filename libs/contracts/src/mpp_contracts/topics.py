"""Topic names and their settings. A breaking change to an event is a new `.v2` topic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int = 3
    compacted: bool = False

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"


CATALOG_SERVICE = Topic("catalog.service.v1", compacted=True)
CATALOG_SITE = Topic("catalog.site.v1", compacted=True)
INTAKE_APPLICATION = Topic("intake.application.v1")
ROUTING_DECISION = Topic("routing.decision.v1")
NOTIFY_SMS = Topic("notify.sms.v1")


def site_inbox(site_id: str) -> Topic:
    """Cases forwarded to one site (for example to the central MPP), keyed by application id."""
    return Topic(f"site.{site_id}.inbox.v1")


ALL_SHARED = (CATALOG_SERVICE, CATALOG_SITE, INTAKE_APPLICATION, ROUTING_DECISION, NOTIFY_SMS)
