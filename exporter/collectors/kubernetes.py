"""Cluster state under kube-state-metrics' names, and pod and node usage from
the metrics API as ``modelwatch_`` gauges (they are instantaneous usage, not
counters). Switch it off where kube-state-metrics runs.

The objects are listed by a background refresh every
``exporter.kubernetes_refresh_seconds`` and scrapes read that cache, so a
scrape never lists the cluster. Lists are paginated
(``exporter.kubernetes_list_page_size`` objects a call, with the API's
``continue`` token), and each page is cut down to the fields reported here
before the next is fetched: a 5,000-pod namespace never sits in memory as
whole objects (about 6 KB of JSON each, several times that as Python objects). Every API call gives up after
``exporter.kubernetes_request_timeout_seconds`` (an API server that accepts
and never answers would block the refresh for good otherwise). When a refresh
fails, or none has completed for a refresh interval plus that timeout, the
collection fails (success 0) and the exporter serves the last good listing
with its age, ``modelwatch_kubernetes_cache_age_seconds``, which an alert
watches. The metrics API is optional: without metrics-server the usage series
are absent.

Parsing is apart from fetching: ``families(snapshot)`` turns the API's JSON
(the recorded objects in tests/exporter/fixtures/kubernetes) into series.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Callable, Iterable

from kubernetes.utils import parse_quantity
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from modelwatch.exporter.collectors import StaleCollection

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
STATUSES = ("true", "false", "unknown")
UNITS = {"cpu": "core", "memory": "byte", "pods": "integer", "ephemeral_storage": "byte"}


def _quantity(text) -> float:
    return float(parse_quantity(text))


def _pages(call, args: tuple, page_size: int, timeout_seconds: float, slim: Callable[[dict], dict]) -> list[dict]:
    """Every item of a list call, a page at a time, each cut down by ``slim`` before the next page is fetched.
    A continue token that has expired (410 Gone) fails this listing; the next refresh starts over."""
    items, token = [], None
    while True:
        page = json.loads(call(*args, limit=page_size, _continue=token, _preload_content=False,
                               _request_timeout=timeout_seconds).data)
        items += [slim(item) for item in page.get("items") or []]
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return items


def _slim_pod(item: dict) -> dict:
    """What families() reads of a pod: 5,000 whole pods would not fit the exporter's memory limit."""
    meta, status = item["metadata"], item.get("status") or {}
    return {"metadata": {key: meta.get(key, "") for key in ("namespace", "name", "uid")},
            "status": {"phase": status.get("phase"),
                       "conditions": [c for c in status.get("conditions") or [] if c.get("type") == "Ready"],
                       "containerStatuses": [
                           {"name": c["name"], "restartCount": c.get("restartCount", 0), "ready": c.get("ready"),
                            "lastState": {"terminated": {"reason": ((c.get("lastState") or {}).get("terminated")
                                                                    or {}).get("reason")}}}
                           for c in status.get("containerStatuses") or []]}}


def _whole(item: dict) -> dict:
    return item


def fetch(api_client, namespaces: list[str], timeout_seconds: float, page_size: int = 500) -> dict:
    """Everything the collector reports, as the API's JSON (pods cut down); each call gives up after the timeout."""
    from kubernetes import client

    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    autoscaling, custom = client.AutoscalingV2Api(api_client), client.CustomObjectsApi(api_client)

    def listed(call, *args, slim=_whole):
        return _pages(call, args, page_size, timeout_seconds, slim)

    snapshot = {"deployments": [], "pods": [], "hpas": [], "nodes": [], "pod_metrics": [], "node_metrics": []}
    for namespace in namespaces:
        snapshot["deployments"] += listed(apps.list_namespaced_deployment, namespace)
        snapshot["pods"] += listed(core.list_namespaced_pod, namespace, slim=_slim_pod)
        snapshot["hpas"] += listed(autoscaling.list_namespaced_horizontal_pod_autoscaler, namespace)
    snapshot["nodes"] = listed(core.list_node)
    try:  # metrics-server is optional
        for namespace in namespaces:
            snapshot["pod_metrics"] += listed(custom.list_namespaced_custom_object,
                                              "metrics.k8s.io", "v1beta1", namespace, "pods")
        snapshot["node_metrics"] = listed(custom.list_cluster_custom_object, "metrics.k8s.io", "v1beta1", "nodes")
    except client.ApiException as exc:
        if exc.status not in (403, 404, 503):
            raise
    return snapshot


def families(snapshot: dict) -> list:
    def gauge(name, text, labels):
        return GaugeMetricFamily(name, text, labels=labels)

    dep = ["namespace", "deployment"]
    deployment = {
        "spec_replicas": gauge("kube_deployment_spec_replicas", "Desired pods of the deployment.", dep),
        "replicas": gauge("kube_deployment_status_replicas", "Pods of the deployment.", dep),
        "availableReplicas": gauge("kube_deployment_status_replicas_available", "Available pods.", dep),
        "readyReplicas": gauge("kube_deployment_status_replicas_ready", "Ready pods.", dep),
        "updatedReplicas": gauge("kube_deployment_status_replicas_updated", "Updated pods.", dep),
    }
    for item in snapshot["deployments"]:
        labels = [item["metadata"]["namespace"], item["metadata"]["name"]]
        deployment["spec_replicas"].add_metric(labels, item["spec"].get("replicas", 1))
        for field in ("replicas", "availableReplicas", "readyReplicas", "updatedReplicas"):
            deployment[field].add_metric(labels, item.get("status", {}).get(field, 0))

    pod = ["namespace", "pod", "uid"]
    phase = gauge("kube_pod_status_phase", "The pod's current phase.", [*pod, "phase"])
    ready = gauge("kube_pod_status_ready", "Whether the pod is ready.", [*pod, "condition"])
    restarts = CounterMetricFamily("kube_pod_container_status_restarts", "Container restarts.",
                                   labels=[*pod, "container"])
    container_ready = gauge("kube_pod_container_status_ready", "Whether the container is ready.", [*pod, "container"])
    terminated = gauge("kube_pod_container_status_last_terminated_reason",
                       "Why the container last terminated.", [*pod, "container", "reason"])
    for item in snapshot["pods"]:
        meta, status = item["metadata"], item.get("status", {})
        labels = [meta["namespace"], meta["name"], meta.get("uid", "")]
        for name in PHASES:
            phase.add_metric([*labels, name], 1.0 if status.get("phase") == name else 0.0)
        condition = next((c["status"].lower() for c in status.get("conditions", []) if c["type"] == "Ready"), "unknown")
        for name in STATUSES:
            ready.add_metric([*labels, name], 1.0 if condition == name else 0.0)
        for container in status.get("containerStatuses", []):
            restarts.add_metric([*labels, container["name"]], container.get("restartCount", 0))
            container_ready.add_metric([*labels, container["name"]], 1.0 if container.get("ready") else 0.0)
            last = container.get("lastState", {}).get("terminated")
            if last and last.get("reason"):
                terminated.add_metric([*labels, container["name"], last["reason"]], 1.0)

    hpa = ["namespace", "horizontalpodautoscaler"]
    hpa_fields = {
        ("spec", "minReplicas"): gauge("kube_horizontalpodautoscaler_spec_min_replicas", "Lower replica limit.", hpa),
        ("spec", "maxReplicas"): gauge("kube_horizontalpodautoscaler_spec_max_replicas", "Upper replica limit.", hpa),
        ("status", "currentReplicas"): gauge("kube_horizontalpodautoscaler_status_current_replicas",
                                             "Current replicas.", hpa),
        ("status", "desiredReplicas"): gauge("kube_horizontalpodautoscaler_status_desired_replicas",
                                             "Desired replicas.", hpa),
    }
    metric_labels = [*hpa, "metric_name", "metric_target_type"]
    target = gauge("kube_horizontalpodautoscaler_spec_target_metric", "The metric targets of the autoscaler.",
                   metric_labels)
    current = gauge("kube_horizontalpodautoscaler_status_target_metric", "The current values of those metrics.",
                    metric_labels)
    for item in snapshot["hpas"]:
        labels = [item["metadata"]["namespace"], item["metadata"]["name"]]
        for (part, field), family in hpa_fields.items():
            family.add_metric(labels, item.get(part, {}).get(field, 1 if field == "minReplicas" else 0))
        for spec in item["spec"].get("metrics", []):
            name, values = _metric(spec, "target")
            for kind, value in values:
                target.add_metric([*labels, name, kind], value)
        for status in item.get("status", {}).get("currentMetrics") or []:
            name, values = _metric(status, "current")
            for kind, value in values:
                current.add_metric([*labels, name, kind], value)

    condition_family = gauge("kube_node_status_condition", "The node's conditions.", ["node", "condition", "status"])
    allocatable = gauge("kube_node_status_allocatable", "Resources allocatable to pods.", ["node", "resource", "unit"])
    for item in snapshot["nodes"]:
        node = item["metadata"]["name"]
        for condition in item.get("status", {}).get("conditions", []):
            for name in STATUSES:
                condition_family.add_metric([node, condition["type"], name],
                                            1.0 if condition["status"].lower() == name else 0.0)
        for resource, quantity in sorted(item.get("status", {}).get("allocatable", {}).items()):
            resource = re.sub(r"[^a-zA-Z0-9_]", "_", resource)
            allocatable.add_metric([node, resource, UNITS.get(resource, "integer")], _quantity(quantity))

    pod_cpu = gauge("modelwatch_pod_container_cpu_usage_cores", "CPU in use now (metrics API).",
                    ["namespace", "pod", "container"])
    pod_memory = gauge("modelwatch_pod_container_memory_working_set_bytes", "Working set now (metrics API).",
                       ["namespace", "pod", "container"])
    for item in snapshot["pod_metrics"]:
        for container in item.get("containers", []):
            labels = [item["metadata"]["namespace"], item["metadata"]["name"], container["name"]]
            pod_cpu.add_metric(labels, _quantity(container["usage"]["cpu"]))
            pod_memory.add_metric(labels, _quantity(container["usage"]["memory"]))
    node_cpu = gauge("modelwatch_node_cpu_usage_cores", "CPU in use now on the node (metrics API).", ["node"])
    node_memory = gauge("modelwatch_node_memory_working_set_bytes", "Working set now on the node (metrics API).",
                        ["node"])
    for item in snapshot["node_metrics"]:
        node_cpu.add_metric([item["metadata"]["name"]], _quantity(item["usage"]["cpu"]))
        node_memory.add_metric([item["metadata"]["name"]], _quantity(item["usage"]["memory"]))
    return [*deployment.values(), phase, ready, restarts, container_ready, terminated, *hpa_fields.values(), target,
            current, condition_family, allocatable, pod_cpu, pod_memory, node_cpu, node_memory]


def _metric(entry: dict, key: str) -> tuple[str, list[tuple[str, float]]]:
    """(metric name, [(target type, value)]) of one autoscaling/v2 metric spec or status."""
    kind = entry["type"]
    body = entry[kind[0].lower() + kind[1:]]
    name = body.get("metric", {}).get("name") or body.get("name", "")
    values = body.get(key, {})
    found = []
    for field, label in (("value", "value"), ("averageValue", "average"), ("averageUtilization", "utilization")):
        if field in values and field != "type":
            found.append((label, _quantity(values[field])))
    return name, found


class KubernetesCollector:
    def __init__(self, namespaces: list[str], refresh_seconds: float, connect: Callable[[], object],
                 request_timeout_seconds: float = 10.0, page_size: int = 500):
        self._namespaces = namespaces
        self._page_size = page_size
        self._refresh_seconds = refresh_seconds
        self._timeout = request_timeout_seconds
        self._connect = connect
        self._snapshot: dict | None = None
        self._taken: float | None = None
        self._error: Exception | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        try:
            snapshot = fetch(self._connect(), self._namespaces, self._timeout, self._page_size)
        except Exception as exc:
            self._error = exc
            return
        with self._lock:
            self._snapshot, self._taken, self._error = snapshot, time.monotonic(), None

    def _loop(self) -> None:
        while True:
            time.sleep(self._refresh_seconds)
            self.refresh()

    def collect(self) -> Iterable:
        if self._thread is None:
            self.refresh()  # the first collection waits for the first listing
            self._thread = threading.Thread(target=self._loop, name="kubernetes-cache", daemon=True)
            self._thread.start()
        with self._lock:
            snapshot, taken, error = self._snapshot, self._taken, self._error
        if snapshot is None:
            raise error  # nothing listed yet: nothing to serve
        age_seconds = time.monotonic() - taken
        age = GaugeMetricFamily("modelwatch_kubernetes_cache_age_seconds", "Age of the cached cluster listing.")
        age.add_metric([], age_seconds)
        metrics = [*families(snapshot), age]
        if error is None and age_seconds > self._refresh_seconds + self._timeout:
            error = TimeoutError(f"no listing has completed for {age_seconds:.0f} s")
        if error is not None:
            raise StaleCollection(error, metrics)  # success 0, the last good listing served with its age
        return metrics


def connect_from_environment():
    """In a pod: the service account; elsewhere: the kubeconfig."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()
