"""Events are contracts: within a topic version a change may only add optional fields.

The JSON schemas of the events as published are kept in `event_schemas.json`. Removing or retyping a field, or
adding a required one, fails here: such a change is a new `.v2` topic. After an additive change, refresh the
snapshot with `UPDATE_EVENT_SCHEMAS=1 uv run pytest tests/contracts`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from mpp_contracts.catalog import ServiceTypeChanged, SiteChanged
from mpp_contracts.intake import (
    ApplicationStatusChanged,
    ApplicationSubmitted,
    AppointmentChangeRequested,
    PhoneVerificationRequested,
)
from mpp_contracts.notify import SmsStatusChanged
from mpp_contracts.routing import (
    ApplicationForwarded,
    ApplicationRouted,
    AppointmentCancelled,
    AppointmentMissed,
    AppointmentRescheduled,
    ResultReturned,
)

EVENTS: dict[str, type[BaseModel]] = {
    "catalog.service.v1/ServiceTypeChanged": ServiceTypeChanged,
    "catalog.site.v1/SiteChanged": SiteChanged,
    "intake.application.v1/ApplicationSubmitted": ApplicationSubmitted,
    "intake.application.v1/ApplicationStatusChanged": ApplicationStatusChanged,
    "intake.application.v1/AppointmentChangeRequested": AppointmentChangeRequested,
    "intake.application.v1/PhoneVerificationRequested": PhoneVerificationRequested,
    "routing.decision.v1/ApplicationRouted": ApplicationRouted,
    "routing.decision.v1/AppointmentRescheduled": AppointmentRescheduled,
    "routing.decision.v1/AppointmentCancelled": AppointmentCancelled,
    "routing.decision.v1/AppointmentMissed": AppointmentMissed,
    "site.<site>.inbox.v1/ApplicationForwarded": ApplicationForwarded,
    "site.<site>.inbox.v1/ResultReturned": ResultReturned,
    "notify.sms.v1/SmsStatusChanged": SmsStatusChanged,
}
SNAPSHOT = Path(__file__).with_name("event_schemas.json")


def schema(model: type[BaseModel]) -> dict[str, Any]:
    # Validation mode: a field with a default is optional, which is what lets old events still be read.
    return model.model_json_schema(mode="validation")


def breaking_changes(old: dict[str, Any], new: dict[str, Any], where: str = "") -> list[str]:
    """What a consumer written against `old` could no longer read in `new` (nested models included)."""
    problems: list[str] = []
    old_defs, new_defs = old.get("$defs", {}), new.get("$defs", {})

    def compare(a: dict[str, Any], b: dict[str, Any], path: str) -> None:
        for name, prop in a.get("properties", {}).items():
            if name not in b.get("properties", {}):
                problems.append(f"{path}{name}: removed")
                continue
            if _type(prop) != _type(b["properties"][name]) and not _widened_enum(prop, b["properties"][name]):
                problems.append(f"{path}{name}: type {_type(prop)} became {_type(b['properties'][name])}")
        for name in set(b.get("required", [])) - set(a.get("required", [])):
            problems.append(f"{path}{name}: new required field")

    compare(old, new, where)
    for name, definition in old_defs.items():
        if name not in new_defs:
            problems.append(f"{name}: nested model removed")
        else:
            compare(definition, new_defs[name], f"{name}.")
    return problems


def _widened_enum(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """A new value of an enum (a new status) is additive: consumers are deployed before the producer that sends
    it (one chart release), and an event an old consumer could not read waits in its DLQ for a re-drive."""
    if "enum" not in old or "enum" not in new:
        return False
    rest = {k: v for k, v in old.items() if k != "enum"} == {k: v for k, v in new.items() if k != "enum"}
    return rest and set(old["enum"]) <= set(new["enum"])


def _type(prop: dict[str, Any]) -> str:
    keys = ("type", "$ref", "anyOf", "enum", "const", "items", "format")
    return json.dumps({k: prop[k] for k in keys if k in prop}, sort_keys=True)


def test_events_change_only_by_adding_optional_fields() -> None:
    current = {name: schema(model) for name, model in EVENTS.items()}
    if os.environ.get("UPDATE_EVENT_SCHEMAS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    kept = json.loads(SNAPSHOT.read_text())
    problems = [
        f"{name}: {p}" for name, old in kept.items() for p in breaking_changes(old, current.get(name, {}))
    ]
    assert not problems, "breaking event changes (publish a .v2 topic instead):\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"drop": "tracking_code"}, "tracking_code: removed"),
        ({"retype": ("site_id", {"type": "integer"})}, "site_id: type"),
        ({"require": "note"}, "note: new required field"),
    ],
)
def test_the_check_catches_breaking_changes(change: dict[str, Any], expected: str) -> None:
    old = schema(ApplicationStatusChanged)
    new = json.loads(json.dumps(old))
    if "drop" in change:
        del new["properties"][change["drop"]]
    if "retype" in change:
        name, prop = change["retype"]
        new["properties"][name] = prop
    if "require" in change:
        new["required"].append(change["require"])
    assert any(expected in p for p in breaking_changes(old, new))


def test_an_optional_field_is_not_breaking() -> None:
    old = schema(ApplicationStatusChanged)
    new = json.loads(json.dumps(old))
    new["properties"]["channel_hint"] = {"type": "string", "default": ""}
    assert breaking_changes(old, new) == []
