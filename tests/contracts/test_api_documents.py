"""What clients and ops are given to build on: the committed API documents (docs/api) are what the code produces,
the AsyncAPI document covers every topic and event, and the chart's alert rules and dashboard name only metrics the
services export (or a Kafka exporter, documented as such)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from mpp_contracts.topics import ALL_SHARED
from tests.contracts import api_documents, chart_metrics
from tests.contracts.test_event_schemas import EVENTS


@functools.cache
def generated() -> dict[Path, str]:
    return api_documents.documents()


DOCUMENTS = [
    *(f"{service}.openapi.json" for service in api_documents.HTTP_SERVICES),
    "asyncapi.json",
]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_committed_document_is_what_the_code_produces(name: str) -> None:
    path = api_documents.DOCS / name
    assert path.is_file(), f"docs/api/{name} is missing: run `{api_documents.REGENERATE}`"
    assert path.read_text(encoding="utf-8") == generated()[path], (
        f"docs/api/{name} is out of date: run `{api_documents.REGENERATE}` and commit the result"
    )


def test_every_topic_and_event_is_in_the_asyncapi_document() -> None:
    document = api_documents.asyncapi_document()
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {topic.name for topic in ALL_SHARED} | {"site.{site_id}.inbox.v1"} <= addresses
    assert {model.__name__ for model in EVENTS.values()} <= set(document["components"]["messages"])
    for operation in document["operations"].values():
        assert operation["messages"], operation
    # Each topic is written by someone; only notify.sms.v1 has no reader yet (docs/architecture.md).
    sent = {op["channel"]["$ref"] for op in document["operations"].values() if op["action"] == "send"}
    received = {op["channel"]["$ref"] for op in document["operations"].values() if op["action"] == "receive"}
    channels = {f"#/channels/{name}" for name in document["channels"]}
    assert sent == channels and channels - received == {"#/channels/notifySms"}


def test_every_reference_of_the_asyncapi_document_resolves() -> None:
    document = api_documents.asyncapi_document()

    def resolve(ref: str) -> Any:
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [node["$ref"]] if "$ref" in node else [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    found = refs(document)
    assert found
    for ref in found:
        assert resolve(ref) is not None, ref


# ------------------------------------------------------------------ metrics the chart stands on


@functools.cache
def exported() -> dict[str, set[str]]:
    """Every series name the services export, with its labels: all four apps are built (never started), which
    imports every module that defines a metric into the process's registry."""
    for build in api_documents.HTTP_SERVICES.values():
        build()
    series: dict[str, set[str]] = {}
    collectors = REGISTRY._names_to_collectors  # name (with its suffixes) -> collector
    for name, collector in collectors.items():
        series[name] = set(getattr(collector, "_labelnames", ()))
        if name.endswith("_bucket"):
            series[name].add("le")
    return series


def usable() -> dict[str, set[str]]:
    return {**exported(), **chart_metrics.EXPORTER_METRICS}


@pytest.mark.parametrize(
    ("where", "expr"),
    [
        *(pytest.param("alert", e, id=f"alert:{a}") for a, e in chart_metrics.alert_rules().items()),
        *(
            pytest.param("panel", e, id=f"panel:{p}")
            for p, e in chart_metrics.dashboard_expressions().items()
        ),
    ],
)
def test_the_chart_names_only_metrics_and_labels_that_exist(where: str, expr: str) -> None:
    names = chart_metrics.metric_names(expr)
    assert names, f"no metric found in {expr!r}"
    missing = names - set(usable())
    assert not missing, f"{where} {expr!r} names metrics nobody exports: {sorted(missing)}"
    labels = set().union(*(usable()[name] for name in names)) | chart_metrics.TARGET_LABELS
    unknown = chart_metrics.grouping_labels(expr) - labels
    assert not unknown, f"{where} {expr!r} uses labels its metrics do not have: {sorted(unknown)}"


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    """When promtool is at hand (PROMTOOL, or on the PATH; `go install
    github.com/prometheus/prometheus/cmd/promtool@v0.316.0` builds it): the rules as Prometheus reads them."""
    promtool = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool is not installed")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(chart_metrics.rules_document()["spec"]))
    checked = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for expr in chart_metrics.dashboard_expressions().values():
        parsed = subprocess.run(
            [promtool, "--experimental", "promql", "format", expr], capture_output=True, text=True
        )
        assert parsed.returncode == 0, f"{expr!r}: {parsed.stderr}"


def test_the_exporter_metrics_are_documented_as_external() -> None:
    readme = (chart_metrics.CHART / "README.md").read_text()
    rules = chart_metrics.RULES.read_text()
    for name in chart_metrics.EXPORTER_METRICS:
        assert name in readme and "kafka-exporter" in rules, name


def test_metric_labels_are_bounded() -> None:
    """No label that could carry a person's data or a raw path."""
    forbidden = re.compile(r"tracking|phone|nik|path|url|application_id|message_id|name$")
    for name, labels in exported().items():
        assert not {label for label in labels if forbidden.search(label)}, name
