"""Client addresses in the cluster: intake runs uvicorn without its own proxy-header handling (the peer is the real
one) and TRUSTED_PROXY_CIDRS from `intake.trustedProxyCidrs`, for every site; the web believes the ingress of
`web.trustedProxyCidrs` (FORWARDED_ALLOW_IPS); a value that is no CIDR is refused."""

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


def web_container(rendered: Rendered) -> dict[str, Any]:
    [web] = [
        d["spec"]["template"]["spec"]["containers"][0]
        for d in rendered.kind("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "web"
    ]
    return web


def test_the_web_believes_the_ingress_it_is_told_of_and_no_one_by_default(helm: Path) -> None:
    default = web_container(render(helm, [], ["web.enabled=true"]))
    assert "FORWARDED_ALLOW_IPS" not in {e["name"] for e in default["env"]}  # uvicorn's own: 127.0.0.1
    told = web_container(
        render(helm, [], ["web.enabled=true", "web.trustedProxyCidrs={10.42.0.0/16,fd00::/8}"])
    )
    env = {e["name"]: e.get("value") for e in told["env"]}
    assert env["FORWARDED_ALLOW_IPS"] == "10.42.0.0/16,fd00::/8"
    assert "--no-proxy-headers" not in told["command"]


def test_a_web_proxy_that_is_no_cidr_is_refused(helm: Path) -> None:
    error = render_fails(helm, "--set", "web.enabled=true", "--set", "web.trustedProxyCidrs={ingress-nginx}")
    assert "trustedProxyCidrs" in error
