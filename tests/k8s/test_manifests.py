"""The Kubernetes manifests: generated parts up to date and from the one source
(rules, dashboards, the autoscaler's PromQL), every overlay built by kubectl
kustomize, every core object valid against the Kubernetes schemas
(kubernetes-validate), least privilege and hardened pods. There is no
Kubernetes API server on these machines: this is the stand-in."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from autoscaler.metrics import scaling_metric
from dashboards import GENERATED_DIR as DASHBOARDS_DIR
from model_service.registry import Deployment
from modelwatch.config import Config
from modelwatch.manifests import K8S_DIR, generated_files
from rules import MODULES, rule_files

OVERLAYS = ["base", "overlays/keda", "overlays/prometheus-adapter", "overlays/canary", "overlays/blue-green"]
KUBERNETES_VERSION = "1.30"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule", "ScaledObject"}


def load(relative: str) -> dict:
    return yaml.safe_load((K8S_DIR / relative).read_text())


def build(overlay: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (it brings kustomize)")
    result = subprocess.run([kubectl, "kustomize", str(K8S_DIR / overlay)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_generated_parts_are_up_to_date():
    stale = [str(path) for path, text in generated_files(Config()).items() if (K8S_DIR / path).read_text() != text]
    assert not stale, f"stale (run python -m modelwatch.manifests): {stale}"


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
    assert groups == expected and len(groups) == 16


def test_the_dashboards_configmap_holds_the_generated_dashboards():
    listed = load("base/kustomization.yaml")["configMapGenerator"][0]["files"]
    names = sorted(Path(f).name for f in listed)
    assert names == sorted(p.name for p in (DASHBOARDS_DIR / "dashboards").glob("*.json"))
    for name in names:
        assert (K8S_DIR / "base/generated/dashboards" / name).read_text() == (DASHBOARDS_DIR / "dashboards" / name).read_text()


def test_the_canary_serves_v2_in_the_canary_role():
    deployment = Deployment(**json.loads((K8S_DIR / "overlays/canary/deployment.json").read_text()))
    assert deployment.problems() == [] and deployment.canary == "v2" and deployment.canary_weight == 1.0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_builds_and_its_objects_validate(overlay):
    objects = build(overlay)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue  # no Kubernetes schema: see the CRD note in docs/architecture.md
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        assert obj["metadata"].get("namespace", "modelwatch") == "modelwatch" or obj["kind"].startswith("Cluster")


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
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
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
    assert objects[("Deployment", "model-service-green")]["spec"]["template"]["metadata"]["labels"]["color"] == "green"
