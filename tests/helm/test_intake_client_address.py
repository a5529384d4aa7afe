"""Intake's client address in the cluster: uvicorn without its own proxy-header handling (the peer is the real
one) and TRUSTED_PROXY_CIDRS from `intake.trustedProxyCidrs`, for every site; a value that is no CIDR is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import KUKAR, Rendered, render, render_fails


def intake_containers(rendered: Rendered) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]
        for d in rendered.kind("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "intake"
    }


def test_intake_runs_without_uvicorns_proxy_headers_and_other_services_keep_theirs(
    default_render: Rendered,
) -> None:
    for deployment in default_render.kind("Deployment"):
        command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
        intake = deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "intake"
        assert ("--no-proxy-headers" in command) == intake, deployment["metadata"]["name"]
    for container in intake_containers(default_render).values():
        assert "TRUSTED_PROXY_CIDRS" not in {e["name"] for e in container["env"]}  # none by default


def test_trusted_proxies_reach_every_sites_intake(helm: Path) -> None:
    rendered = render(helm, [KUKAR], ["web.enabled=true", "intake.trustedProxyCidrs={10.42.0.0/16,fd00::/8}"])
    containers = intake_containers(rendered)
    assert len(containers) == 21
    for name, container in containers.items():
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["TRUSTED_PROXY_CIDRS"] == "10.42.0.0/16,fd00::/8", name
        assert container["command"][-1] == "--no-proxy-headers", name


def test_a_trusted_proxy_that_is_no_cidr_is_refused(helm: Path) -> None:
    error = render_fails(helm, "--set", "intake.trustedProxyCidrs={ingress-nginx}")
    assert "trustedProxyCidrs" in error
