"""The generated parts of the Kubernetes manifests, from the same sources as
every other runtime: the PrometheusRule from the rule groups, the
ServiceMonitors, the dashboards
ConfigMap's JSON from the dashboards, the HPA from the autoscaler's settings,
and the KEDA and prometheus-adapter autoscaling queries from
``modelwatch.core.queries``."""

from __future__ import annotations

from pathlib import Path

from modelwatch.core import queries
from modelwatch.core.config import Config
from modelwatch.core.queries import scaling_metric
from modelwatch.core.yaml_text import generated_header, to_yaml
from modelwatch.rules import rule_groups

# Where the Prometheus Operator's Prometheus answers inside the cluster (kube-prometheus's default).
PROMETHEUS_URL = "http://prometheus-operated.monitoring.svc:9090"


def prometheus_rule(config: Config) -> dict:
    groups = [group.to_dict(config.alerts.runbook_url)
              for file_groups in rule_groups(config).values() for group in file_groups]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "modelwatch", "labels": {"release": "prometheus"}},
        "spec": {"groups": groups},
    }


def scaled_object(config: Config) -> dict:
    metric, scaler = scaling_metric(config), config.autoscaler
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "model-service"},
        "spec": {
            "scaleTargetRef": {"name": "model-service"},
            "minReplicaCount": scaler.kubernetes_min_replicas,
            "maxReplicaCount": scaler.kubernetes_max_replicas,
            "pollingInterval": 15,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
                "scaleDown": {"stabilizationWindowSeconds": int(scaler.scale_down_stabilization_seconds)}}}},
            "triggers": [{
                "type": "prometheus",
                "metadata": {
                    "serverAddress": PROMETHEUS_URL,
                    "query": metric.query,
                    "threshold": f"{metric.target:g}",  # AverageValue: per replica, like the local autoscaler
                },
            }],
        },
    }


def adapter_rules(config: Config) -> dict:
    metric = scaling_metric(config)
    return {"externalRules": [{
        "seriesQuery": f"{queries.HTTP_DURATION}_count{{{queries.Selectors(config).service}}}",
        "resources": {"overrides": {"namespace": {"resource": "namespace"}}},
        "name": {"as": metric.name},
        "metricsQuery": metric.query,
    }]}


def adapter_hpa(config: Config) -> dict:
    """A patch of the base HPA: its metric becomes the adapter's external metric."""
    metric = scaling_metric(config)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "model-service"},
        "spec": {
            "metrics": [{"type": "External", "external": {
                "metric": {"name": metric.name},
                "target": {"type": "AverageValue", "averageValue": f"{metric.target:g}"},
            }}],
        },
    }


def horizontal_pod_autoscaler(config: Config) -> dict:
    """The base HPA: CPU per pod against the autoscaler's CPU target, with its bounds and policies."""
    scaler = config.autoscaler
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "model-service"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "model-service"},
            "minReplicas": scaler.kubernetes_min_replicas,
            "maxReplicas": scaler.kubernetes_max_replicas,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "AverageValue", "averageValue": f"{round(scaler.target_cpu_cores * 1000)}m"},
            }}],
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": int(scaler.scale_up_stabilization_seconds),
                    "selectPolicy": "Max",
                    "policies": [
                        {"type": "Percent", "value": scaler.scale_up_percent, "periodSeconds": int(scaler.scale_up_period_seconds)},
                        {"type": "Pods", "value": scaler.scale_up_pods, "periodSeconds": int(scaler.scale_up_period_seconds)},
                    ],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": int(scaler.scale_down_stabilization_seconds),
                    "policies": [{"type": "Percent", "value": scaler.scale_down_percent,
                                  "periodSeconds": int(scaler.scale_down_period_seconds)}],
                },
            },
        },
    }


def service_monitors(config: Config) -> list[dict]:
    """The service's and the exporter's ServiceMonitors: their series are scraped as they are (the drift
    rules select each shard by the ``feature_slot`` label both give the feature series)."""
    interval = f"{config.prometheus.scrape_interval_seconds:g}s"
    return [
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": name},
         "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                  "endpoints": [{"port": port, "path": "/metrics", "interval": interval}]}}
        for name, port in (("model-service", "metrics"), ("modelwatch-exporter", "metrics"))
    ]


def generated_files(config: Config, dashboards: dict[str, str]) -> dict[Path, str]:
    """Path below k8s/ -> text; ``dashboards`` is each dashboard's file name -> JSON text."""
    def dump(document: dict, source: str) -> str:
        return generated_header(source) + to_yaml(document)

    queries_file = "modelwatch/core/queries.py"
    files = {
        Path("base/generated/prometheusrule.yaml"): dump(prometheus_rule(config), "rules/"),
        Path("base/generated/hpa.yaml"): dump(horizontal_pod_autoscaler(config), "the autoscaler section of the configuration"),
        Path("base/generated/servicemonitors.yaml"): generated_header("modelwatch/generate/kubernetes.py") + "---\n".join(
            to_yaml(monitor) for monitor in service_monitors(config)),
        Path("overlays/keda/generated/scaledobject.yaml"): dump(scaled_object(config), queries_file),
        Path("overlays/prometheus-adapter/generated/hpa-metrics.yaml"): dump(adapter_hpa(config), queries_file),
        Path("overlays/prometheus-adapter/generated/adapter-rules.yaml"): dump(adapter_rules(config), queries_file),
    }
    for name, text in sorted(dashboards.items()):
        files[Path("base/generated/dashboards") / name] = text
    return files
