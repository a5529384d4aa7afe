"""The chart against a real API server (kube-apiserver + etcd on loopback, kube-controller-manager,
kube-scheduler, and kwok moving pods on a fake node): what only a server knows.

- The Kukar render passes `kubectl apply --server-side --dry-run=server` (the server's own validation, defaulting
  and admission), with the CRDs of tests/helm/crds installed for the KEDA and prometheus-operator kinds.
- `helm install --wait` runs the hook Jobs to completion and rolls every Deployment out; `helm upgrade` to a new
  image tag and log level rolls them again; `helm uninstall --wait` leaves nothing of the release.
- Values the chart's schema lets through but the server refuses are refused.

Nothing runs in the pods (kwok marks them Running, and a Job's pod Succeeded): probes, images, the hook scripts
and network policies are not exercised here.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mpp_devstack.kube import KUBE_VERSION, LocalKubernetes

from .conftest import CHART, KUKAR, Rendered
from .test_chart import EVERYTHING_ON

CRDS = Path(__file__).parent / "crds"
SERVER_VERSION = KUBE_VERSION.removeprefix("v")
RELEASE = "mini-mpp"
# hook Jobs and rollouts on a loaded two-core machine: generous, still bounded
WAIT = "240s"


class Cluster:
    """helm and kubectl pointed at the test API server."""

    def __init__(self, kube: LocalKubernetes, helm: Path, kubectl: Path) -> None:
        self.kube, self.helm_bin, self.kubectl_bin = kube, helm, kubectl
        home = kube.workdir / "helm"
        # helm keeps its own files beside the cluster's, not in the user's home
        self.env = {
            **os.environ,
            "KUBECONFIG": str(kube.kubeconfig),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_DATA_HOME": str(home / "data"),
        }

    def _run(
        self, binary: Path, args: tuple[str, ...], stdin: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(binary), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            env=self.env,
            timeout=timeout,
        )

    def helm(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self._run(self.helm_bin, args, None, timeout)

    def kubectl(
        self, *args: str, stdin: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self._run(self.kubectl_bin, args, stdin, timeout)

    def ok(self, done: subprocess.CompletedProcess[str]) -> str:
        assert done.returncode == 0, f"{done.args[1:]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def get(self, kind: str, namespace: str, *selectors: str) -> list[dict[str, Any]]:
        out = self.ok(self.kubectl("get", kind, "-n", namespace, "-o", "json", *selectors))
        items: list[dict[str, Any]] = json.loads(out)["items"]
        return items

    def template(self, namespace: str, sets: list[str]) -> str:
        args = [
            "template",
            RELEASE,
            str(CHART),
            "-n",
            namespace,
            "--kube-version",
            SERVER_VERSION,
            "-f",
            str(KUKAR),
        ]
        for item in sets:
            args += ["--set", item]
        return self.ok(self.helm(*args))


@pytest.fixture(scope="module")
def cluster(kube_cluster: LocalKubernetes, helm: Path, kubectl: Path) -> Cluster:
    found = Cluster(kube_cluster, helm, kubectl)
    found.ok(found.kubectl("apply", "--server-side", "-f", str(CRDS)))
    found.ok(found.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRDS)))
    return found


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f"mpp-{uuid.uuid4().hex[:8]}"
    cluster.ok(cluster.kubectl("create", "namespace", name))
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")


def test_the_server_reports_the_version_it_was_built_as(cluster: Cluster) -> None:
    version = json.loads(cluster.ok(cluster.kubectl("version", "-o", "json")))["serverVersion"]
    # helm's kubeVersion check and .Capabilities read this; an unstamped build says v0.0.0
    assert version["gitVersion"] == f"v{SERVER_VERSION}"


@pytest.mark.parametrize("sets", [[], EVERYTHING_ON], ids=["kukar", "kukar-everything-on"])
def test_the_kukar_render_passes_the_servers_dry_run(
    cluster: Cluster, namespace: str, sets: list[str]
) -> None:
    manifest = cluster.template(namespace, sets)
    done = cluster.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=mini-mpp-test",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=manifest,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr  # e.g. an unknown field the server would drop
    applied = [line for line in done.stdout.splitlines() if line.endswith("(server dry run)")]
    assert len(applied) == len([doc for doc in yaml.safe_load_all(manifest) if doc])


def test_install_upgrade_and_uninstall_against_the_server(cluster: Cluster, namespace: str) -> None:
    base = [RELEASE, str(CHART), "-n", namespace, "-f", str(KUKAR), "--wait", "--timeout", WAIT]
    expected = Rendered(
        o
        for o in yaml.safe_load_all(cluster.template(namespace, ["image.tag=0.1.0"]))
        if o and "helm.sh/hook" not in o["metadata"].get("annotations", {})
    )

    # install: the hook Jobs (topics, then migrations) must complete before helm creates the workloads
    cluster.ok(cluster.helm("install", *base, "--set", "image.tag=0.1.0"))
    deployments = cluster.get("deployments", namespace)
    assert sorted(d["metadata"]["name"] for d in deployments) == sorted(
        d["metadata"]["name"] for d in expected.kind("Deployment")
    )
    for deployment in deployments:
        status = deployment["status"]
        assert status.get("readyReplicas") == deployment["spec"]["replicas"], deployment["metadata"]["name"]
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.endswith(":0.1.0")
    # hook-succeeded: the Jobs and what they needed are gone once they succeeded
    assert cluster.get("jobs", namespace) == []
    assert not [c for c in cluster.get("configmaps", namespace) if "hooks" in c["metadata"]["name"]]

    # upgrade: a new image and a changed value roll every Deployment (the hooks run again first)
    cluster.ok(cluster.helm("upgrade", *base, "--set", "image.tag=0.2.0", "--set", "logLevel=DEBUG"))
    for deployment in cluster.get("deployments", namespace):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["image"].endswith(":0.2.0"), deployment["metadata"]["name"]
        assert {"name": "LOG_LEVEL", "value": "DEBUG"} in container["env"]
        status = deployment["status"]
        assert status.get("updatedReplicas") == status.get("readyReplicas") == deployment["spec"]["replicas"]
        assert deployment["metadata"]["generation"] == status["observedGeneration"] == 2
    history = json.loads(cluster.ok(cluster.helm("history", RELEASE, "-n", namespace, "-o", "json")))
    assert [(h["revision"], h["status"]) for h in history] == [(1, "superseded"), (2, "deployed")]

    # uninstall: nothing of the release is left. Foreground: helm returns once the garbage collector has also
    # removed what the Deployments own (ReplicaSets, pods); the default (background) returns before that.
    cluster.ok(
        cluster.helm(
            "uninstall", RELEASE, "-n", namespace, "--wait", "--cascade", "foreground", "--timeout", WAIT
        )
    )
    left = cluster.ok(
        cluster.kubectl(
            "get",
            "deployments,replicasets,pods,services,serviceaccounts,configmaps,networkpolicies,"
            "poddisruptionbudgets,jobs,horizontalpodautoscalers,scaledobjects,triggerauthentications",
            "-n",
            namespace,
            "-l",
            f"app.kubernetes.io/instance={RELEASE}",
            "-o",
            "name",
        )
    )
    assert left.strip() == ""
    assert cluster.helm("status", RELEASE, "-n", namespace).returncode != 0


@pytest.mark.parametrize(
    ("sets", "refusal"),
    [
        # the schema takes any string as a quantity; the server knows what a quantity is
        (["catalog.resources.requests.cpu=two cores"], "quantities must match the regular expression"),
        # label values are free strings in the schema; the server allows 63 characters of [A-Za-z0-9-_.]
        (
            ["grafanaDashboard.enabled=true", "grafanaDashboard.labels.team=city hall!"],
            "metadata.labels: Invalid value",
        ),
    ],
    ids=["bad-quantity", "bad-label-value"],
)
def test_values_the_schema_allows_are_refused_by_the_server(
    cluster: Cluster, namespace: str, sets: list[str], refusal: str
) -> None:
    manifest = cluster.template(namespace, sets)  # the schema and the templates let it through
    dry_run = cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "-n", namespace, "-f", "-", stdin=manifest
    )
    assert dry_run.returncode != 0
    assert refusal in dry_run.stderr, dry_run.stderr

    # a real install is refused the same way (hooks skipped: they would only delay the refusal)
    args = ["install", RELEASE, str(CHART), "-n", namespace, "-f", str(KUKAR), "--no-hooks"]
    for item in sets:
        args += ["--set", item]
    install = cluster.helm(*args)
    assert install.returncode != 0
    assert refusal in install.stderr, install.stderr
    cluster.helm("uninstall", RELEASE, "-n", namespace)
