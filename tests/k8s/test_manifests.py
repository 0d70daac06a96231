"""The Kubernetes manifests: generated parts up to date and from the one source
(rules, dashboards, the autoscaler's PromQL), every overlay built by kubectl
kustomize, every core object valid against the Kubernetes schemas
(kubernetes-validate), least privilege and hardened pods. There is no
Kubernetes API server on these machines: this is the stand-in."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from modelwatch.core.queries import scaling_metric
from modelwatch.dashboards import GENERATED_DIR as DASHBOARDS_DIR
from modelwatch.models.registry import Deployment
from modelwatch.core.config import Config, PathsConfig
from modelwatch.rules import MODULES, rule_files
from tests.conftest import ROOT, require_binary
from tests.k8s.official_crds import official_errors

K8S_DIR = ROOT / "k8s"

OVERLAYS = ["base", "overlays/keda", "overlays/prometheus-adapter", "overlays/canary", "overlays/blue-green"]
KUBERNETES_VERSION = "1.30"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
ELSEWHERE = {("ConfigMap", "modelwatch-adapter-rules"): "monitoring"}  # read by prometheus-adapter, in its namespace
CUSTOM_KINDS = ("ServiceMonitor", "PrometheusRule", "ScaledObject")  # validated against their published CRDs


def load(relative: str) -> dict:
    return yaml.safe_load((K8S_DIR / relative).read_text())


def build(overlay: str) -> list[dict]:
    kubectl = require_binary("kubectl")
    result = subprocess.run([kubectl, "kustomize", str(K8S_DIR / overlay)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def validate(obj: dict) -> None:
    if obj["kind"] in CUSTOM_KINDS:
        errors = official_errors(obj)
        assert not errors, f"{obj['kind']} {obj['metadata']['name']}: {errors[:3]}"
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_keda_and_prometheus_adapter_scale_on_the_local_autoscalers_promql():
    metric = scaling_metric(Config())
    trigger = load("overlays/keda/generated/scaledobject.yaml")["spec"]["triggers"][0]["metadata"]
    assert trigger["query"] == metric.query and float(trigger["threshold"]) == metric.target
    rule = load("overlays/prometheus-adapter/generated/adapter-rules.yaml")["externalRules"][0]
    assert rule["metricsQuery"] == metric.query and rule["name"]["as"] == metric.name
    hpa_metric = load("overlays/prometheus-adapter/generated/hpa-metrics.yaml")["spec"]["metrics"][0]["external"]
    assert hpa_metric["metric"]["name"] == metric.name and float(hpa_metric["target"]["averageValue"]) == metric.target


def test_the_prometheus_rule_is_the_rule_files():
    groups = load("base/generated/prometheusrule.yaml")["spec"]["groups"]
    expected = [g for name in MODULES for g in yaml.safe_load(rule_files(Config())[name])["groups"]]
    assert groups == expected and len(groups) == 23 + 2 * Config().prometheus.drift_shards  # rates and figures


def test_the_service_monitors_scrape_the_jobs_the_rules_select_and_keep_their_labels():
    monitors = {m["metadata"]["name"]: m for m in yaml.safe_load_all((K8S_DIR / "base/generated/servicemonitors.yaml").read_text())}
    config = Config()
    # The Operator names a ServiceMonitor's job after the Service: the rules' job names.
    assert set(monitors) == {config.alerts.service_job, config.alerts.exporter_job}
    for monitor in monitors.values():
        endpoint, = monitor["spec"]["endpoints"]
        assert endpoint["interval"] == f"{config.prometheus.scrape_interval_seconds:g}s"
        # no metricRelabelings: the drift shards select the feature_slot label the series carry
        assert set(endpoint) == {"port", "path", "interval"}


def test_the_dashboards_configmap_holds_the_generated_dashboards():
    listed = load("base/kustomization.yaml")["configMapGenerator"][0]["files"]
    names = sorted(Path(f).name for f in listed)
    assert names == sorted(p.name for p in (DASHBOARDS_DIR / "dashboards").glob("*.json"))
    for name in names:
        assert (K8S_DIR / "base/generated/dashboards" / name).read_text() == (DASHBOARDS_DIR / "dashboards" / name).read_text()


def test_the_canary_serves_v2_in_the_canary_role():
    deployment = Deployment(**json.loads((K8S_DIR / "overlays/canary/canary-deployment/deployment.json").read_text()))
    assert deployment.problems() == [] and deployment.canary == "v2" and deployment.canary_weight == 1.0
    objects = {(o["kind"], o["metadata"]["name"]): o for o in build("overlays/canary")}
    canary = objects[("Deployment", "model-service-canary")]["spec"]["template"]["spec"]
    config_map = next(v["configMap"]["name"] for v in canary["volumes"] if v["name"] == "deployment")
    assert ("ConfigMap", config_map) in objects  # the generated name, hash suffix included
    mount = next(m for m in canary["containers"][0]["volumeMounts"] if m["name"] == "deployment")
    assert mount["mountPath"] == "/var/lib/modelwatch/models/iris/deployment.json"
    assert canary["containers"][0]["image"].endswith(":0.2.0")  # the release image that carries v2
    # Everything else is the base Deployment's: probes, resources, hardening.
    stable = objects[("Deployment", "model-service")]["spec"]["template"]["spec"]
    for key in ("readinessProbe", "livenessProbe", "resources", "securityContext"):
        assert canary["containers"][0][key] == stable["containers"][0][key], key


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_builds_and_its_objects_validate(overlay):
    objects = build(overlay)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds
    for obj in objects:
        validate(obj)
        if obj["kind"] not in CLUSTER_SCOPED:
            expected = ELSEWHERE.get((obj["kind"], obj["metadata"]["name"]), "modelwatch")
            assert obj["metadata"].get("namespace") == expected, f"{obj['kind']} {obj['metadata']['name']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_deployment_selects_another_ones_pods(overlay):
    deployments = [o for o in build(overlay) if o["kind"] == "Deployment"]
    for owner in deployments:
        selector = owner["spec"]["selector"]["matchLabels"]
        assert selector.items() <= owner["spec"]["template"]["metadata"]["labels"].items()
        for other in deployments:
            if other is not owner:
                assert not selector.items() <= other["spec"]["template"]["metadata"]["labels"].items(), (
                    f"{owner['metadata']['name']} would adopt {other['metadata']['name']}'s pods")


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("ServiceMonitor", ("spec", "endpoints", 0, "intervall"), "30s"),
        ("PrometheusRule", ("spec", "groups", 0, "rules", 0, "for"), "five minutes"),
        ("ScaledObject", ("spec", "triggers"), "prometheus"),
    ],
)
def test_a_mistake_in_a_custom_resource_is_caught(kind, path, value):
    obj = next(o for o in build("overlays/keda") if o["kind"] == kind)
    validate(obj)
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(AssertionError, match=kind):
        validate(obj)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_hardened_and_probed(overlay):
    for obj in build(overlay):
        if obj["kind"] != "Deployment":
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["resources"]["requests"] and container["resources"]["limits"]
            assert container["readinessProbe"]
        if obj["metadata"]["name"].startswith("model-service"):
            container = pod["containers"][0]
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            # liveness over gRPC's health service, on the port the service is told to listen on
            grpc_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert container["livenessProbe"]["grpc"]["port"] == grpc_port == int(env["MODELWATCH_SERVICE__GRPC_PORT"])
            assert obj["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxUnavailable", 0) == 0


def test_the_exporter_may_only_read():
    for obj in yaml.safe_load_all((K8S_DIR / "base/exporter-rbac.yaml").read_text()):
        for rule in obj.get("rules", []):
            assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule


def test_the_keda_overlay_replaces_the_cpu_hpa():
    kinds = [o["kind"] for o in build("overlays/keda")]
    assert "HorizontalPodAutoscaler" not in kinds and "ScaledObject" in kinds


def test_blue_green_sends_the_service_to_one_colour():
    objects = {(o["kind"], o["metadata"]["name"]): o for o in build("overlays/blue-green")}
    assert objects[("Service", "model-service")]["spec"]["selector"]["color"] == "blue"
    assert objects[("Deployment", "model-service")]["spec"]["template"]["metadata"]["labels"]["color"] == "blue"
    green = objects[("Deployment", "model-service-green")]["spec"]
    assert green["template"]["metadata"]["labels"]["color"] == green["selector"]["matchLabels"]["color"] == "green"


def model_service_pods(overlay: str) -> list[dict]:
    """The pod spec of every model-service Deployment of an overlay (stable, canary, green)."""
    return [obj["spec"]["template"]["spec"] for obj in build(overlay)
            if obj["kind"] == "Deployment" and obj["metadata"]["name"].startswith("model-service")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_keys_secret_is_mounted_as_a_folder_the_kubelet_updates(overlay):
    for pod in model_service_pods(overlay):
        secrets = {v["name"] for v in pod["volumes"] if "secret" in v}
        container = pod["containers"][0]
        mounts = [m for m in container["volumeMounts"] if m["name"] in secrets]
        assert mounts and not any("subPath" in m for m in mounts), mounts  # a subPath mount is never updated
        keys_mount = next(m for m in mounts if m["name"] == "keys")
        env = {e["name"]: e.get("value") for e in container["env"]}
        keys_path = Path(env["MODELWATCH_PATHS__KEYS_PATH"])
        assert keys_path.parent == Path(keys_mount["mountPath"]) and keys_path.name == "keys.json"
        id_mount = next(m for m in mounts if m["name"] == "prediction-id")
        assert Path(env["MODELWATCH_PATHS__PREDICTION_ID_KEY_PATH"]).parent == Path(id_mount["mountPath"])
        registry_mount = next(m for m in mounts if m["name"] == "registry-key")  # optional: sha256s only without it
        assert Path(env["MODELWATCH_PATHS__REGISTRY_KEY_PATH"]).parent == Path(registry_mount["mountPath"])
        assert registry_mount["readOnly"] and not Path(env["MODELWATCH_PATHS__REGISTRY_KEY_PATH"]).is_relative_to(
            Path(env["MODELWATCH_PATHS__STATE_DIR"]) / "models")  # outside the registry it vouches for


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_label_record_is_writable_under_a_read_only_root(overlay):
    for pod in model_service_pods(overlay):
        writable = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        container = pod["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"]
        labelled = Config(paths=PathsConfig(state_dir=Path({e["name"]: e.get("value") for e in container["env"]}[
            "MODELWATCH_PATHS__STATE_DIR"]))).paths.labelled_ids_file
        assert any(m["name"] in writable and labelled.parent == Path(m["mountPath"]) for m in container["volumeMounts"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_metrics_are_scraped_on_their_own_port_which_only_the_monitoring_namespace_reaches(overlay):
    objects = build(overlay)
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    for monitor in (o for o in objects if o["kind"] == "ServiceMonitor"):
        name = monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        [endpoint] = monitor["spec"]["endpoints"]
        service_port = next(p for p in services[name]["spec"]["ports"] if p["name"] == endpoint["port"])
        for deployment in (o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"].startswith(name)):
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            container_port = next(p for p in container["ports"] if p["name"] == service_port["targetPort"])
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if name == "model-service":  # the service answers /metrics only on this port
                assert env["MODELWATCH_SERVICE__METRICS_PORT"] == str(container_port["containerPort"])
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            covering = [p for p in policies if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]
            assert covering, f"no NetworkPolicy selects {deployment['metadata']['name']}"
            for rule in (r for p in covering for r in p["spec"]["ingress"]):
                if any(port["port"] == container_port["name"] for port in rule["ports"]):
                    assert rule.get("from"), f"{name}'s metrics port is open to every namespace"


RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
                      "secret"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_meets_the_restricted_pod_security_standard_its_namespace_enforces(overlay):
    objects = build(overlay)
    namespace = next(o for o in objects if o["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in (o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")):
        pod, name = obj["spec"]["template"]["spec"], obj["metadata"]["name"]
        assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC")), name
        assert all(set(volume) - {"name"} <= RESTRICTED_VOLUMES for volume in pod.get("volumes", [])), name
        pod_context = pod.get("securityContext", {})
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container.get("securityContext", {})
            assert context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True, name
            assert context.get("runAsUser", pod_context.get("runAsUser", 1)) != 0, name
            seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
            assert seccomp.get("type") in ("RuntimeDefault", "Localhost"), name
            assert context.get("allowPrivilegeEscalation") is False, name
            assert "ALL" in context.get("capabilities", {}).get("drop", []), name
            assert set(context.get("capabilities", {}).get("add", [])) <= {"NET_BIND_SERVICE"}, name
        if "serviceAccountName" not in pod:  # no API calls: no token in the pod
            assert pod.get("automountServiceAccountToken") is False, name


def _custom_resources() -> dict[str, dict]:
    objects = build("base") + build("overlays/keda")
    return {kind: next(o for o in objects if o["kind"] == kind) for kind in CUSTOM_KINDS}


def _planted(obj: dict, change) -> dict:
    planted = json.loads(json.dumps(obj))
    change(planted)
    return planted


PLANTED = {  # kind -> mistake -> how to make it
    "PrometheusRule": {
        "two groups with one name": lambda o: o["spec"]["groups"][1].update(name=o["spec"]["groups"][0]["name"]),
        "an unknown rule field": lambda o: o["spec"]["groups"][0]["rules"][0].update(for_="5m"),
        "a duration Prometheus cannot read": lambda o: o["spec"]["groups"][0].update(interval="5 minutes"),
        "an invalid object name": lambda o: o["metadata"].update(name="Modelwatch_Rules"),
    },
    "ServiceMonitor": {
        "a protocol listed twice": lambda o: o["spec"].update(scrapeProtocols=["PrometheusText0.0.4"] * 2),
        "an unknown endpoint field": lambda o: o["spec"]["endpoints"][0].update(scrape_interval="15s"),
        "a port number where a name belongs": lambda o: o["spec"]["endpoints"][0].update(port=9102),
    },
    "ScaledObject": {
        "a misspelt field": lambda o: o["spec"].update(maxReplicas=5),
        "a trigger without its type": lambda o: o["spec"]["triggers"][0].pop("type"),
        "a wrong apiVersion": lambda o: o.update(apiVersion="keda.sh/v1"),
    },
}


def test_the_published_crds_catch_every_planted_mistake():
    resources = _custom_resources()
    for kind, mistakes in PLANTED.items():
        assert not official_errors(resources[kind]), official_errors(resources[kind])
        for mistake, plant in mistakes.items():
            assert official_errors(_planted(resources[kind], plant)), f"{kind}: {mistake} passed the published CRD"


def test_the_vendored_crds_are_the_published_files_with_their_provenance():
    readme = (K8S_DIR / "schemas" / "README.md").read_text()
    for name in ("monitoring.coreos.com_servicemonitors.yaml", "monitoring.coreos.com_prometheusrules.yaml",
                 "keda.sh_scaledobjects.yaml"):
        crd = yaml.safe_load((K8S_DIR / "schemas" / name).read_text())
        assert crd["kind"] == "CustomResourceDefinition" and name in readme
    assert "v0.80.1" in readme and "v2.16.1" in readme and "Apache-2.0" in readme
