"""Load and validate a catalogue data set (a directory of YAML files).

Layout of a data directory::

    agencies.yaml        agencies: [...]
    sites.yaml           defaults: {...}, sites: [...], schedules: [...]
    services/*.yaml      defaults: {...}, services: [...]   (any number of files, read in name order)

Keys starting with ``x-`` at the top of a file are ignored, so they can hold YAML anchors shared by entries.

Entries are built by layering: file ``defaults``, then the entry, then (if present) each of the entry's
``variants``. A later layer replaces a key wholesale, except ``+key: [...]`` which appends to the list
inherited for ``key``. A variant may carry ``vars: {name: value}``; ``${name}`` in any string of the merged
entry is then replaced (string.Template syntax). One entry with n variants yields n records.

``python -m catalog.seed [--data DIR]`` validates a directory and prints counts; it exits 1 with every
problem (file, item and field) when the data is invalid.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from catalog.domain import Agency, AgencySchedule, Catalogue, ServiceType, Site, cross_check

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data" / "kukar"

M = TypeVar("M", bound=BaseModel)


class CatalogueError(Exception):
    """The data set is invalid; ``problems`` lists each one as "file: item: field: message"."""

    def __init__(self, data_dir: Path, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:100])
        more = f"\n  ... and {len(self.problems) - 100} more" if len(self.problems) > 100 else ""
        super().__init__(
            f"invalid catalogue data in {data_dir} ({len(self.problems)} problem(s)):\n{shown}{more}"
        )


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(entry)"


def _validation_problems(where: str, exc: ValidationError) -> list[str]:
    return [
        f"{where}: {_loc(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
        for err in exc.errors(include_url=False)
    ]


class _Reader:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.problems: list[str] = []

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.data_dir).as_posix()
        except ValueError:
            return str(path)

    def read(self, path: Path, allowed: set[str], required: set[str]) -> dict[str, Any] | None:
        name = self.rel(path)
        if not path.is_file():
            self.problems.append(f"{name}: file not found")
            return None
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            self.problems.append(f"{name}: not valid YAML: {exc}")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{name}: cannot read: {exc}")
            return None
        if not isinstance(doc, dict):
            self.problems.append(f"{name}: expected a mapping at the top level")
            return None
        for key in doc:
            if not isinstance(key, str) or (key not in allowed and not key.startswith("x-")):
                self.problems.append(
                    f"{name}: unknown top-level key {key!r} (allowed: {', '.join(sorted(allowed))})"
                )
        for key in sorted(required - doc.keys()):
            self.problems.append(f"{name}: missing top-level key {key!r}")
        for key in allowed & doc.keys():
            value = doc[key]
            if key == "defaults" and not isinstance(value, dict):
                self.problems.append(f"{name}: defaults: expected a mapping")
                return None
            if key != "defaults" and not isinstance(value, list):
                self.problems.append(f"{name}: {key}: expected a list")
                return None
        return doc

    def build(self, model: type[M], raw: object, where: str) -> M | None:
        if not isinstance(raw, dict):
            self.problems.append(f"{where}: expected a mapping, got {type(raw).__name__}")
            return None
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            self.problems.extend(_validation_problems(where, exc))
            return None


def _layer(
    base: Mapping[str, Any], top: Mapping[str, Any], where: str, problems: list[str]
) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(key, str) and key.startswith("+"):
            target = key[1:]
            inherited = merged.get(target, [])
            if not isinstance(value, list) or not isinstance(inherited, list):
                problems.append(f"{where}: {key}: both the inherited {target!r} and {key!r} must be lists")
                continue
            merged[target] = [*inherited, *value]
        else:
            merged[key] = value
    return merged


def _substitute(value: Any, variables: Mapping[str, str], where: str, problems: list[str]) -> Any:
    if isinstance(value, str) and "$" in value:
        try:
            return Template(value).substitute(variables)
        except (KeyError, ValueError) as exc:
            problems.append(f"{where}: cannot fill template {value!r}: missing or bad variable {exc}")
            return value
    if isinstance(value, list):
        return [_substitute(v, variables, where, problems) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, variables, where, problems) for k, v in value.items()}
    return value


def _label(raw: Mapping[str, Any]) -> str:
    code = raw.get("code") or raw.get("slug")
    return f" ({code})" if isinstance(code, str) else ""


def _expand(
    defaults: Mapping[str, Any], raw: object, where: str, problems: list[str]
) -> list[tuple[str, dict[str, Any] | object]]:
    """One YAML entry -> [(location, merged mapping)], expanding variants."""
    if not isinstance(raw, dict):
        return [(where, raw)]
    base = _layer(defaults, {k: v for k, v in raw.items() if k != "variants"}, where, problems)
    variants = raw.get("variants")
    if variants is None:
        return [(where + _label(base), base)]
    if not isinstance(variants, list) or not variants:
        problems.append(f"{where}: variants: expected a non-empty list")
        return []
    out: list[tuple[str, dict[str, Any] | object]] = []
    for j, variant in enumerate(variants):
        vwhere = f"{where}.variants[{j}]"
        if not isinstance(variant, dict):
            problems.append(f"{vwhere}: expected a mapping")
            continue
        variables = variant.get("vars", {})
        if not isinstance(variables, dict):
            problems.append(f"{vwhere}: vars: expected a mapping")
            continue
        # A None value almost always means an unquoted comma in a flow mapping split the value in two.
        bad = [k for k, v in variables.items() if not isinstance(v, str | int | float) or isinstance(v, bool)]
        if bad:
            problems.append(
                f"{vwhere}: vars: {', '.join(map(str, bad))}: expected text (quote values containing commas)"
            )
            continue
        merged = _layer(base, {k: v for k, v in variant.items() if k != "vars"}, vwhere, problems)
        merged = _substitute(merged, {str(k): str(v) for k, v in variables.items()}, vwhere, problems)
        out.append((vwhere + _label(merged), merged))
    return out


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate the data directory ``path``; raises CatalogueError listing every problem."""
    data_dir = Path(path)
    if not data_dir.is_dir():
        raise CatalogueError(data_dir, [f"{data_dir}: not a directory"])
    reader = _Reader(data_dir)
    problems = reader.problems

    agencies: list[Agency] = []
    agency_where: list[str] = []
    doc = reader.read(data_dir / "agencies.yaml", {"agencies"}, {"agencies"})
    for i, raw in enumerate(doc.get("agencies", []) if doc else []):
        where = f"agencies.yaml: agencies[{i}]" + (_label(raw) if isinstance(raw, dict) else "")
        agency = reader.build(Agency, raw, where)
        if agency:
            agencies.append(agency)
            agency_where.append(where)

    services: list[ServiceType] = []
    service_where: list[str] = []
    service_files = sorted((data_dir / "services").glob("*.yaml")) if (data_dir / "services").is_dir() else []
    single = data_dir / "services.yaml"
    if single.is_file():
        service_files.insert(0, single)
    if not service_files:
        problems.append("services.yaml or services/*.yaml: no service files found")
    for file in service_files:
        doc = reader.read(file, {"defaults", "services"}, {"services"})
        if not doc:
            continue
        defaults = doc.get("defaults") or {}
        for i, raw in enumerate(doc.get("services") or []):
            for where, merged in _expand(defaults, raw, f"{reader.rel(file)}: services[{i}]", problems):
                service = reader.build(ServiceType, merged, where)
                if service:
                    services.append(service)
                    service_where.append(where)

    sites: list[Site] = []
    site_where: list[str] = []
    schedules: list[AgencySchedule] = []
    schedule_where: list[str] = []
    doc = reader.read(data_dir / "sites.yaml", {"defaults", "sites", "schedules"}, {"sites"})
    if doc:
        defaults = doc.get("defaults") or {}
        for i, raw in enumerate(doc.get("sites") or []):
            for where, merged in _expand(defaults, raw, f"sites.yaml: sites[{i}]", problems):
                site = reader.build(Site, merged, where)
                if site:
                    sites.append(site)
                    site_where.append(where)
        for i, raw in enumerate(doc.get("schedules") or []):
            label = f" ({raw.get('agency_code')}@{raw.get('site')})" if isinstance(raw, dict) else ""
            where = f"sites.yaml: schedules[{i}]{label}"
            schedule = reader.build(AgencySchedule, raw, where)
            if schedule:
                schedules.append(schedule)
                schedule_where.append(where)

    if problems:
        raise CatalogueError(data_dir, problems)

    origins = {
        "agencies": agency_where,
        "services": service_where,
        "sites": site_where,
        "schedules": schedule_where,
    }
    issues = cross_check(agencies, services, sites, schedules)
    if issues:
        raise CatalogueError(
            data_dir,
            [
                f"{origins[i.collection][i.index] if i.index < len(origins[i.collection]) else i.collection}: "
                f"{i.field}: {i.message}"
                for i in issues
            ],
        )
    try:
        return Catalogue(agencies=agencies, services=services, sites=sites, schedules=schedules)
    except ValidationError as exc:  # pragma: no cover - cross_check above reports the same problems
        raise CatalogueError(data_dir, _validation_problems("catalogue", exc)) from exc


def summary(catalogue: Catalogue) -> str:
    channels: Counter[str] = Counter(s.channel for s in catalogue.services)
    kinds: Counter[str] = Counter(s.kind for s in catalogue.sites)
    reasons: Counter[str] = Counter(
        s.central_only_reason for s in catalogue.services if s.central_only_reason
    )

    def fmt(counter: Counter[str]) -> str:
        return ", ".join(f"{key} {count}" for key, count in sorted(counter.items()))

    return "\n".join(
        [
            f"agencies: {len(catalogue.agencies)}",
            f"service types: {len(catalogue.services)} ({fmt(channels)})",
            f"central-only reasons: {fmt(reasons)}",
            f"sites: {len(catalogue.sites)} ({fmt(kinds)})",
            f"schedules: {len(catalogue.schedules)}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m catalog.seed", description="Validate a catalogue data set."
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA_DIR, help=f"data directory (default {DEFAULT_DATA_DIR})"
    )
    args = parser.parse_args(argv)
    try:
        catalogue = load_catalogue(args.data)
    except CatalogueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"catalogue: {args.data}")
    print(summary(catalogue))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
