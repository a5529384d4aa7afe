"""The platform's API documents, generated from the code: the OpenAPI document of every HTTP service (from
`create_app(settings)`, never started) and an AsyncAPI 3.0 document of the Kafka contracts (topics from
`mpp_contracts.topics`, payloads from the event models' JSON schemas, who produces and who consumes each topic).

    .venv/bin/python -m tests.contracts.api_documents     # rewrites docs/api/*.json

`tests/contracts/test_api_documents.py` fails when a committed document differs from what this produces.
The web is left out: it answers HTML pages, not a JSON API.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from fastapi import FastAPI
from pydantic import BaseModel, SecretStr
from pydantic.json_schema import models_json_schema

from mpp_contracts.catalog import ServiceTypeChanged, SiteChanged
from mpp_contracts.intake import ApplicationEvent
from mpp_contracts.notify import SmsStatusChanged
from mpp_contracts.routing import DecisionEvent, InboxEvent, ResultReturned
from mpp_contracts.topics import (
    CATALOG_SERVICE,
    CATALOG_SITE,
    INTAKE_APPLICATION,
    NOTIFY_SMS,
    ROUTING_DECISION,
    Topic,
    site_inbox,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "api"
REGENERATE = ".venv/bin/python -m tests.contracts.api_documents"


def render(document: dict[str, Any]) -> str:
    """One stable text per document (keys sorted), so a diff shows what changed."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


# ------------------------------------------------------------------ OpenAPI


def _catalog() -> FastAPI:
    from catalog.app import create_app
    from catalog.settings import CatalogSettings

    return create_app(CatalogSettings())


def _intake() -> FastAPI:
    from intake.app import create_app
    from intake.settings import IntakeSettings

    # The site only names the document's title; every site's intake serves the same API.
    return create_app(IntakeSettings(site_id="loa-kulu", operator_tokens="ani:secret"))


def _routing() -> FastAPI:
    from routing.app import create_app
    from routing.settings import RoutingSettings

    return create_app(RoutingSettings())


def _notify() -> FastAPI:
    from notify.app import create_app
    from notify.settings import NotifySettings

    # Provider credentials are checked when the app is built; the document does not depend on them.
    return create_app(
        NotifySettings(
            sms_providers="twilio", twilio_account_sid="ACdocuments", twilio_auth_token=SecretStr("documents")
        )
    )


HTTP_SERVICES: dict[str, Callable[[], FastAPI]] = {
    "catalog": _catalog,
    "intake": _intake,
    "routing": _routing,
    "notify": _notify,
}


def openapi_document(service: str) -> dict[str, Any]:
    return HTTP_SERVICES[service]().openapi()


# ------------------------------------------------------------------ AsyncAPI


@dataclass(frozen=True)
class Consumer:
    service: str
    group: str | None  # None: a read model (no consumer group, every replica reads the whole topic)


@dataclass(frozen=True)
class Channel:
    """One topic: what it carries, its key, who writes it and who reads it (from each service's app.py)."""

    id: str
    topic: Topic
    events: tuple[type[BaseModel], ...]
    key: str
    producers: tuple[str, ...]
    consumers: tuple[Consumer, ...]
    description: str
    # Producers that send only some of the channel's events (the others send all of them).
    sends_only: tuple[tuple[str, tuple[type[BaseModel], ...]], ...] = ()


def members(union: Any) -> tuple[type[BaseModel], ...]:
    """The event classes of a discriminated union such as `ApplicationEvent`."""
    return tuple(get_args(get_args(union)[0]))


INBOX = site_inbox("{site_id}")
CHANNELS = (
    Channel(
        "catalogService",
        CATALOG_SERVICE,
        (ServiceTypeChanged,),
        "the service code",
        ("catalog",),
        (Consumer("intake", None), Consumer("routing", None)),
        "Every service type in full (its standar pelayanan summary and the sites offering it); a null value "
        "(tombstone) when it is retired. Compacted: the latest record per code is the catalogue.",
    ),
    Channel(
        "catalogSite",
        CATALOG_SITE,
        (SiteChanged,),
        "the site slug",
        ("catalog",),
        (Consumer("intake", None), Consumer("routing", None)),
        "Every site in full: kind, names, time zone, opening hours, agency schedules and quotas. Compacted.",
    ),
    Channel(
        "intakeApplication",
        INTAKE_APPLICATION,
        members(ApplicationEvent),
        "the application id",
        ("intake",),
        (Consumer("routing", "routing"), Consumer("notify", "notify-intake")),
        "What happens to an application at its site, told apart by `type`.",
    ),
    Channel(
        "routingDecision",
        ROUTING_DECISION,
        members(DecisionEvent),
        "the application id",
        ("routing",),
        (Consumer("notify", "notify-routing"), Consumer("intake", "intake-{site_id}-decisions")),
        "Routing's decision on each application, then what happens to its central appointment.",
    ),
    Channel(
        "siteInbox",
        INBOX,
        members(InboxEvent),
        "the application id",
        ("routing", "intake"),
        (Consumer("intake", "intake-{site_id}-inbox"),),
        "Cases for one site: forwarded to it (and their appointment changes) by routing, results sent home by "
        "the handling site's intake.",
        sends_only=(
            ("routing", tuple(e for e in members(InboxEvent) if e is not ResultReturned)),
            ("intake", (ResultReturned,)),
        ),
    ),
    Channel(
        "notifySms",
        NOTIFY_SMS,
        (SmsStatusChanged,),
        "the application id (the message id when there is none)",
        ("notify",),
        (),
        "Each status an SMS enters (no phone number, no body). Nothing consumes it yet.",
    ),
)


def asyncapi_document() -> dict[str, Any]:
    events = sorted({event for channel in CHANNELS for event in channel.events}, key=lambda e: e.__name__)
    by_model, definitions = models_json_schema(
        [(event, "serialization") for event in events], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    messages: dict[str, Any] = {}
    for event in events:
        payload = by_model[(event, "serialization")]
        kind = getattr(event.model_fields.get("type"), "default", None)  # the `type` that tells events apart
        messages[event.__name__] = {
            "name": event.__name__,
            "title": event.__name__,
            "summary": (event.__doc__ or "").strip().split("\n")[0] or event.__name__,
            "contentType": "application/json",
            "payload": payload,
            "headers": {
                "type": "object",
                "properties": {
                    "event-id": {"type": "string", "format": "uuid", "description": "the event's id"},
                    "traceparent": {"type": "string", "description": "W3C trace context of the writer"},
                },
            },
            **({"x-type": kind} if kind else {}),
        }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in CHANNELS:
        config: dict[str, Any] = {"cleanup.policy": ["compact" if channel.topic.compacted else "delete"]}
        channels[channel.id] = {
            "address": channel.topic.name,
            "description": channel.description,
            "messages": {
                event.__name__: {"$ref": f"#/components/messages/{event.__name__}"}
                for event in channel.events
            },
            "bindings": {
                "kafka": {
                    "partitions": channel.topic.partitions,
                    "topicConfiguration": config,
                    "bindingVersion": "0.5.0",
                }
            },
            "x-key": channel.key,
        }
        if not channel.topic.compacted:  # a read model skips what it cannot read; consumers dead-letter it
            channels[channel.id]["x-dead-letter-topic"] = channel.topic.dlq
        if "{site_id}" in channel.topic.name:
            channels[channel.id]["parameters"] = {
                "site_id": {"description": "the site's slug, e.g. mpp-tenggarong"}
            }
        refs = [{"$ref": f"#/channels/{channel.id}/messages/{event.__name__}"} for event in channel.events]
        only = dict(channel.sends_only)
        for producer in channel.producers:
            sent = only.get(producer, channel.events)
            operations[f"{producer}Sends{channel.id[0].upper()}{channel.id[1:]}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel.id}"},
                "summary": f"{producer} publishes through its outbox",
                "messages": [{"$ref": f"#/channels/{channel.id}/messages/{e.__name__}"} for e in sent],
            }
        for consumer in channel.consumers:
            operation: dict[str, Any] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel.id}"},
                "summary": (
                    f"{consumer.service} keeps a read model of the topic (no consumer group)"
                    if consumer.group is None
                    else f"{consumer.service} consumes in group {consumer.group} (inbox, DLQ after its attempts)"
                ),
                "messages": refs,
            }
            if consumer.group is not None:
                operation["bindings"] = {
                    "kafka": {
                        "groupId": {"type": "string", "const": consumer.group},
                        "bindingVersion": "0.5.0",
                    }
                }
            operations[f"{consumer.service}Receives{channel.id[0].upper()}{channel.id[1:]}"] = operation
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Mini MPP events",
            "version": "1",
            "description": "The Kafka topics between the Mini MPP services. Events change only by adding "
            "optional fields (tests/contracts/test_event_schemas.py); a breaking change is a new `.v2` topic. "
            f"Generated by `{REGENERATE}`.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


# ------------------------------------------------------------------ all of them


def documents() -> dict[Path, str]:
    """Every document's path and text."""
    found = {DOCS / f"{service}.openapi.json": render(openapi_document(service)) for service in HTTP_SERVICES}
    found[DOCS / "asyncapi.json"] = render(asyncapi_document())
    return found


def main() -> None:
    from mpp_kit.sealing import new_key

    # Throwaway keys, as the test suite's conftest sets them: the services refuse to start without, and no
    # document depends on them.
    for name in ("CONTACT_SEALING_KEY", "NIK_ENCRYPTION_KEY"):
        os.environ.setdefault(name, new_key())
    DOCS.mkdir(parents=True, exist_ok=True)
    for path, text in documents().items():
        path.write_text(text, encoding="utf-8")
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
