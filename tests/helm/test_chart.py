"""What the chart renders: valid objects at the lowest and highest Kubernetes versions supported, one intake per
site, unique names and selectors, every pod locked down, hooks in order, one autoscaler per deployable, no
secret value anywhere, and bad values refused before anything is rendered."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from .conftest import CHART, HIGHEST, KUKAR, LOWEST, Rendered, render, render_fails, run_helm

CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"}
SECRET_LOOKING = re.compile(r"TOKEN|PASSWORD|PASSKEY|SECRET|_KEY$|DATABASE_URL|ACCOUNTS$")
EVERYTHING_ON = [
    "web.enabled=true",
    "serviceMonitor.enabled=true",
    "prometheusRule.enabled=true",
    "grafanaDashboard.enabled=true",
    "telemetry.otlpEndpoint=http://otel-collector.observability:4318",
    "kafka.securityProtocol=SASL_SSL",
    "kafka.sasl.mechanism=SCRAM-SHA-512",
    "kafka.sasl.existingSecret=kafka-user",
    "kafka.tls.caSecret=kafka-ca",
    "routing.autoscaling.mode=keda",
    "notify.autoscaling.mode=hpa",
]


def selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("values", [[], [KUKAR]], ids=["defaults", "kukar"])
def test_helm_lint_strict_passes(helm: Path, values: list[Path]) -> None:
    args = ["lint", "--strict", str(CHART)] + [a for v in values for a in ("-f", str(v))]
    done = run_helm(helm, *args)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("kube_version", [LOWEST, HIGHEST])
@pytest.mark.parametrize(
    ("values", "sets"),
    [([], []), ([KUKAR], []), ([KUKAR], EVERYTHING_ON)],
    ids=["one-site", "kukar", "kukar-all"],
)
def test_every_object_is_valid_for_the_kubernetes_version(
    helm: Path, kube_version: str, values: list[Path], sets: list[str]
) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    rendered = render(helm, values, sets, kube_version=kube_version)
    checked = 0
    for obj in rendered:
        if obj["kind"] in CRD_KINDS:
            continue  # no schema of theirs in kubernetes-validate; their content is asserted below
        kubernetes_validate.validate(obj, kube_version, strict=True)
        checked += 1
    assert checked > 10


def test_kukar_has_one_intake_per_site_with_its_site_id(
    kukar_render: Rendered, kukar_sites: list[str]
) -> None:
    assert len(kukar_sites) == 21
    intakes = [
        d
        for d in kukar_render.kind("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "intake"
    ]
    by_site = {d["metadata"]["labels"]["mini-mpp/site"]: d for d in intakes}
    assert sorted(by_site) == sorted(kukar_sites)
    for site, deployment in by_site.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert env["SITE_ID"]["value"] == site
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == f"mini-mpp-intake-{site}"
        assert "intake.app:create_app" in container["command"]
        name = deployment["metadata"]["name"]
        for kind in ("Service", "PodDisruptionBudget", "ServiceAccount", "NetworkPolicy", "ScaledObject"):
            kukar_render.named(kind, name)


@pytest.mark.parametrize("which", ["default_render", "kukar_render"])
def test_names_are_dns_labels_unique_per_kind(which: str, request: pytest.FixtureRequest) -> None:
    rendered: Rendered = request.getfixturevalue(which)
    names = Counter((o["kind"], o["metadata"]["name"]) for o in rendered)
    assert [n for n, count in names.items() if count > 1] == []
    for _, name in names:
        assert len(name) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name


def test_a_release_name_that_makes_a_name_too_long_fails_instead_of_truncating(helm: Path) -> None:
    release = "kutai-kartanegara-production"  # + "-mini-mpp-intake-tenggarong-seberang": 64 characters
    done = run_helm(helm, "template", release, str(CHART), "-f", str(KUKAR))
    assert done.returncode != 0 and "longer than 63" in done.stderr


def test_selectors_are_unique_and_match_their_pods(kukar_render: Rendered) -> None:
    deployments = kukar_render.kind("Deployment")
    selectors = [json.dumps(d["spec"]["selector"]["matchLabels"], sort_keys=True) for d in deployments]
    assert len(set(selectors)) == len(selectors)
    for deployment in deployments:
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector_matches(deployment["spec"]["selector"]["matchLabels"], pod_labels)
        # No other Deployment's pods fall under this selector (an HPA or PDB would count them).
        others = [d for d in deployments if d is not deployment]
        assert not any(
            selector_matches(
                deployment["spec"]["selector"]["matchLabels"], o["spec"]["template"]["metadata"]["labels"]
            )
            for o in others
        ), deployment["metadata"]["name"]
    pods = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in deployments}
    for kind, path in (
        ("Service", ("spec", "selector")),
        ("PodDisruptionBudget", ("spec", "selector", "matchLabels")),
    ):
        for obj in kukar_render.kind(kind):
            selector = obj[path[0]][path[1]] if len(path) == 2 else obj[path[0]][path[1]][path[2]]
            matched = [name for name, labels in pods.items() if selector_matches(selector, labels)]
            assert matched == [obj["metadata"]["name"]], f"{kind}/{obj['metadata']['name']} selects {matched}"


@pytest.mark.parametrize("sets", [[], EVERYTHING_ON], ids=["kukar", "kukar-all"])
def test_every_pod_and_container_is_locked_down(helm: Path, sets: list[str]) -> None:
    rendered = render(helm, [KUKAR], sets)
    templates = rendered.pod_templates()
    assert {o["kind"] for o, _ in templates} == {"Deployment", "Job"}
    for owner, template in templates:
        spec = template["spec"]
        where = f"{owner['kind']}/{owner['metadata']['name']}"
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] >= 10000, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"] == {"drop": ["ALL"]}, where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert sc.get("privileged") is not True, where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes  # noqa: S108 - the mount point itself, f"{where}: no emptyDir on /tmp"
            assert not container["image"].endswith(":latest"), where
    for account in rendered.kind("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_services_have_probes_grace_and_the_right_entry_point(default_render: Rendered) -> None:
    for deployment in default_render.kind("Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        container = spec["containers"][0]
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        assert container["command"][:3] == ["uvicorn", "--factory", f"{component}.app:create_app"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        # uvicorn's own graceful shutdown ends before the kubelet's SIGKILL, after the preStop pause.
        graceful = int(container["command"][container["command"].index("--timeout-graceful-shutdown") + 1])
        pause = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
        assert 0 < pause + graceful < spec["terminationGracePeriodSeconds"]
    assert (
        default_render.named("Deployment", "mini-mpp-notify")["spec"]["template"]["spec"][
            "terminationGracePeriodSeconds"
        ]
        >= 30
    )


def test_hooks_create_topics_then_migrate_before_the_services(
    kukar_render: Rendered, kukar_sites: list[str]
) -> None:
    hooks = [o for o in kukar_render if "helm.sh/hook" in o["metadata"].get("annotations", {})]
    weight = {
        (o["kind"], o["metadata"]["name"]): int(o["metadata"]["annotations"]["helm.sh/hook-weight"])
        for o in hooks
    }
    for obj in hooks:
        assert obj["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "before-hook-creation" in obj["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    topics_job = weight[("Job", "mini-mpp-topics")]
    migrations_job = weight[("Job", "mini-mpp-migrations")]
    needed_first = [weight[(k, "mini-mpp-hooks")] for k in ("ServiceAccount", "ConfigMap", "NetworkPolicy")]
    assert max(needed_first) < topics_job < migrations_job
    # Nothing but the hooks' own objects are hooks: the services are ordinary release objects.
    assert {k for k, _ in weight} == {"ServiceAccount", "ConfigMap", "NetworkPolicy", "Job"}

    env = {
        e["name"]: e
        for e in kukar_render.named("Job", "mini-mpp-topics")["spec"]["template"]["spec"]["containers"][0][
            "env"
        ]
    }
    topics = {t["name"]: t for t in json.loads(env["TOPICS"]["value"])}
    expected = {
        "catalog.service.v1",
        "catalog.site.v1",
        "intake.application.v1",
        "routing.decision.v1",
        "notify.sms.v1",
    }
    expected |= {f"site.{site}.inbox.v1" for site in kukar_sites}
    assert expected <= set(topics)
    for name in expected:
        if topics[name]["config"]["cleanup.policy"] == "compact":
            continue
        assert topics[f"{name}.dlq"]["config"]["retention.ms"].isdigit()
        assert topics[name]["config"]["retention.ms"].isdigit()
    most_replicas = max(
        [so["spec"]["maxReplicaCount"] for so in kukar_render.kind("ScaledObject")]
        + [h["spec"]["maxReplicas"] for h in kukar_render.kind("HorizontalPodAutoscaler")]
    )
    assert min(topics[n]["partitions"] for n in expected) >= most_replicas

    migrate_env = kukar_render.named("Job", "mini-mpp-migrations")["spec"]["template"]["spec"]["containers"][
        0
    ]["env"]
    targets = [
        t.split("=") for t in next(e["value"] for e in migrate_env if e["name"] == "MIGRATE_TARGETS").split()
    ]
    assert Counter(package for package, _ in targets) == {
        "catalog": 1,
        "routing": 1,
        "notify": 1,
        "intake": 21,
    }
    variables = [variable for _, variable in targets]
    assert len(variables) == len(set(variables)) == 24
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in migrate_env if "valueFrom" in e}
    assert refs["DATABASE_URL_INTAKE_LOA_KULU"]["name"] == "mini-mpp-intake-loa-kulu"
    assert set(variables) <= set(refs)


def test_autoscaler_is_keda_or_hpa_never_both_and_replicas_left_to_it(helm: Path) -> None:
    keda = render(helm, [KUKAR], ["routing.autoscaling.mode=keda"])
    hpa = render(helm, [KUKAR], ["intake.autoscaling.mode=hpa", "intake.sites[0].autoscaling.mode=hpa"])
    for rendered in (keda, hpa):
        targets = [so["spec"]["scaleTargetRef"]["name"] for so in rendered.kind("ScaledObject")] + [
            h["spec"]["scaleTargetRef"]["name"] for h in rendered.kind("HorizontalPodAutoscaler")
        ]
        assert len(targets) == len(set(targets)), "a Deployment with two autoscalers"
        for name in targets:
            assert "replicas" not in rendered.named("Deployment", name)["spec"], name
    partitions = 6
    for scaled in keda.kind("ScaledObject"):
        spec = scaled["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
        for trigger in spec["triggers"]:
            assert trigger["type"] == "kafka"
            assert all(isinstance(v, str) for v in trigger["metadata"].values()), trigger["metadata"]
            assert {"bootstrapServers", "consumerGroup", "topic", "lagThreshold"} <= set(trigger["metadata"])
    groups = {
        t["metadata"]["consumerGroup"] for so in keda.kind("ScaledObject") for t in so["spec"]["triggers"]
    }
    assert {"routing", "intake-loa-kulu-decisions", "intake-loa-kulu-inbox"} <= groups
    assert len(hpa.kind("ScaledObject")) == 0 and len(hpa.kind("HorizontalPodAutoscaler")) == 21


def test_no_secret_value_is_rendered_or_kept_in_values(helm: Path) -> None:
    rendered = render(helm, [KUKAR], EVERYTHING_ON)
    assert rendered.kind("Secret") == []
    for owner, template in rendered.pod_templates():
        for container in template["spec"]["containers"]:
            for env in container["env"]:
                if SECRET_LOOKING.search(env["name"]):
                    assert "value" not in env and "secretKeyRef" in env["valueFrom"], (
                        owner["metadata"]["name"],
                        env,
                    )
    for values in (CHART / "values.yaml", KUKAR):
        text = values.read_text()
        assert not re.search(r"(?i)(password|token|passkey|secret)\s*:\s*['\"]?[A-Za-z0-9+/=]{8,}", text), (
            values
        )
    auth = rendered.named("TriggerAuthentication", "mini-mpp-kafka")
    assert {r["parameter"] for r in auth["spec"]["secretTargetRef"]} == {"username", "password", "ca"}


def test_network_policies_deny_by_default_and_open_only_what_each_needs(helm: Path) -> None:
    rendered = render(helm, [KUKAR], EVERYTHING_ON)
    policies = rendered.kind("NetworkPolicy")
    deny = rendered.named("NetworkPolicy", "mini-mpp-deny-all")
    assert deny["spec"]["ingress"] == [] and deny["spec"]["egress"] == []
    for owner, template in rendered.pod_templates():
        labels = template["metadata"]["labels"]
        own = [
            p
            for p in policies
            if p is not deny and selector_matches(p["spec"]["podSelector"]["matchLabels"], labels)
        ]
        assert len(own) == 1, owner["metadata"]["name"]
        assert selector_matches(deny["spec"]["podSelector"]["matchLabels"], labels)
        egress_ports = {p["port"] for rule in own[0]["spec"]["egress"] for p in rule["ports"]}
        assert 53 in egress_ports
    routing = rendered.named("NetworkPolicy", "mini-mpp-routing")
    assert all("from" in rule for rule in routing["spec"]["ingress"]), "routing has no public endpoint"
    notify_egress = rendered.named("NetworkPolicy", "mini-mpp-notify")["spec"]["egress"]
    sms = [r for r in notify_egress if any("ipBlock" in peer for peer in r.get("to", []))]
    assert sms and {p["port"] for p in sms[0]["ports"]} == {443}
    assert "10.0.0.0/8" in sms[0]["to"][0]["ipBlock"]["except"]
    web_egress = rendered.named("NetworkPolicy", "mini-mpp-web")["spec"]["egress"]
    assert 9092 not in {p["port"] for rule in web_egress for p in rule["ports"]}, "web talks HTTP only"


def test_web_is_off_by_default_and_knows_every_intake_when_on(
    default_render: Rendered, kukar_render: Rendered
) -> None:
    assert not [d for d in default_render.kind("Deployment") if d["metadata"]["name"].endswith("-web")]
    web = kukar_render.named("Deployment", "mini-mpp-web")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in web["env"]}
    services = {s["metadata"]["name"] for s in kukar_render.kind("Service")}
    intakes = dict(pair.split("=") for pair in env["INTAKE_URLS"]["value"].split(","))
    assert len(intakes) == 21
    for url in [*intakes.values(), env["CATALOG_URL"]["value"]]:
        assert url.removeprefix("http://").split(":")[0] in services
    assert env["SESSION_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "mini-mpp-web"


def test_observability_objects_render_with_their_metrics(helm: Path) -> None:
    rendered = render(helm, [KUKAR], EVERYTHING_ON)
    monitor = rendered.named("ServiceMonitor", "mini-mpp-metrics")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    rules = rendered.named("PrometheusRule", "mini-mpp-alerts")
    alerts = {r["alert"]: r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]}
    for alert, metric in {
        "MiniMppDeadLettersGrowing": "kafka_topic_partition_current_offset",
        "MiniMppOutboxBehind": "outbox_oldest_age_seconds",
        "MiniMppConsumerLag": "kafka_consumergroup_lag",
        "MiniMppSmsFailureRate": "sms_provider_sends_total",
        "MiniMppNoSlotsLeftForAWeek": "routing_free_slots_next_7_days",
    }.items():
        assert metric in alerts[alert]
    dashboard = json.loads(rendered.named("ConfigMap", "mini-mpp-dashboard")["data"]["mini-mpp.json"])
    assert dashboard["uid"] == "mini-mpp" and len(dashboard["panels"]) >= 8
    collector = yaml.safe_load((CHART / "examples" / "otel-collector.yaml").read_text())
    assert "otlp" in collector["service"]["pipelines"]["traces"]["receivers"]


@pytest.mark.parametrize(
    "sets",
    [
        ["intake.sites[0].id=Loa_Kulu"],  # not a DNS label
        ["intake.sites[0].id=a-site-id-that-is-far-too-long-for-an-object-name-x"],
        ["intake.autoscaling.mode=both"],
        ["catalog.autoscaling.mode=keda"],  # catalog consumes nothing: no lag
        ["intake.sites[0].colour=blue"],  # unknown key in a site
        ["surprise=1"],  # unknown top-level key
        ["kafka.securityProtocol=TLS"],
        ["image.tag=latest"],
        ["kafka.sasl.mechanism=PLAIN"],  # SASL without the Secret holding its credentials
        ["catalog.env.CATALOG_ADMIN_TOKEN=hunter2hunter2"],  # a secret as a plain value
        ["routing.autoscaling.mode=hpa", "routing.autoscaling.maxReplicas=7"],  # above the 6 partitions
        ["centralSite=nowhere"],  # the central site has no intake
    ],
)
def test_bad_values_are_refused(helm: Path, sets: list[str]) -> None:
    render_fails(helm, *[a for s in sets for a in ("--set", s)])


def test_a_site_listed_twice_fails_the_render(helm: Path) -> None:
    error = render_fails(helm, "-f", str(KUKAR), "--set", "intake.sites[3].id=loa-kulu")
    assert "loa-kulu" in error and "twice" in error
