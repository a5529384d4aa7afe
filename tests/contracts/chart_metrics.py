"""The metric names the Helm chart's alert rules and dashboard are written against, read from the chart's files
(the PrometheusRule template with its Helm directives stripped, and the dashboard JSON), for the tests that check
every one of them is exported by a service or documented as coming from a Kafka exporter."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "mini-mpp"
RULES = CHART / "templates" / "prometheusrule.yaml"
DASHBOARD = CHART / "files" / "dashboard.json"

# Series a Kafka exporter scraping the brokers exports (the chart README lists them as external), with their labels.
EXPORTER_METRICS = {
    "kafka_consumergroup_lag": {"consumergroup", "topic", "partition"},
    "kafka_topic_partition_current_offset": {"topic", "partition"},
}
# Labels Prometheus itself adds to every scraped series.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service"}

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool"}


def rules_document() -> dict[str, Any]:
    """The PrometheusRule from its template: Helm directives dropped, thresholds from values replaced by 1."""
    text = RULES.read_text()
    text = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", text, flags=re.S)  # template comments
    text = text.replace('{{ "{{" }}', "{{").replace('{{ "}}" }}', "}}")
    lines = [line for line in text.splitlines() if not re.fullmatch(r"\s*\{\{-.*\}\}\s*", line)]
    text = "\n".join(lines)
    text = re.sub(r"\{\{\s*\$r\.\w+\s*\}\}", "1", text)  # thresholds from values
    text = re.sub(r"\{\{-?\s*include [^}]*\}\}", "x", text)
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def alert_rules() -> dict[str, str]:
    """Alert name -> expression."""
    groups = rules_document()["spec"]["groups"]
    return {rule["alert"]: str(rule["expr"]) for group in groups for rule in group["rules"]}


def dashboard_expressions() -> dict[str, str]:
    """Panel title -> expression of the dashboard's targets."""
    dashboard = json.loads(DASHBOARD.read_text())
    return {
        f"{panel['title']} [{target['refId']}]": target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    }


def _without_matchers(expr: str) -> str:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (regexes of label matchers)
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    return re.sub(r"\[[^\]]*\]", "", expr)  # range selectors


def metric_names(expr: str) -> set[str]:
    """The series an expression selects: identifiers that are neither functions, keywords nor grouping labels."""
    bare = _without_matchers(expr)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", bare):
        following = bare[match.end() :].lstrip()
        if following.startswith("(") or match.group() in PROMQL_WORDS:
            continue  # a function call or a keyword
        if re.fullmatch(r"\d+[smhdwy]", match.group()) or re.fullmatch(r"e\d*", match.group()):
            continue
        names.add(match.group())
    return names


def grouping_labels(expr: str) -> set[str]:
    """Labels named in `by (...)` / `without (...)` / `on (...)` and in label matchers."""
    labels: set[str] = set()
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels |= {label.strip() for label in group.split(",") if label.strip()}
    for matchers in re.findall(r"\{([^}]*)\}", re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)):
        labels |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    return labels
