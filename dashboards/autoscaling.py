"""Autoscaling and cluster: replicas current / desired / min / max against the
request rate, the autoscaling metric against its target, pod restarts and
readiness, node usage. The series are kube-state-metrics' names, which the
local autoscaler and the exporter's kubernetes collector export too."""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.dashboards.panels import ORANGE, RED, Query, dashboard, rows, stat, state_timeline, steps, timeseries, variable
from modelwatch.dashboards.variables import JOB
from modelwatch.core.config import Config

UID = "modelwatch-autoscaling"
HPA = 'namespace=~"$namespace", horizontalpodautoscaler=~"$hpa"'
NS = 'namespace=~"$namespace"'


def build(config: Config):
    scaling = [
        stat("Current replicas", f"sum(kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}})", "short"),
        stat("Desired replicas", f"sum(kube_horizontalpodautoscaler_status_desired_replicas{{{HPA}}})", "short"),
        stat("Maximum", f"sum(kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}})", "short"),
        stat("Headroom to the maximum",
             f"sum(kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}})"
             f" - sum(kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}})", "short",
             thresholds=steps((1, ORANGE), (2, "green"), base=RED)),
        timeseries("Replicas", [
            Query(f"kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}}", "current {{horizontalpodautoscaler}}"),
            Query(f"kube_horizontalpodautoscaler_status_desired_replicas{{{HPA}}}", "desired {{horizontalpodautoscaler}}"),
            Query(f"kube_horizontalpodautoscaler_spec_min_replicas{{{HPA}}}", "min {{horizontalpodautoscaler}}"),
            Query(f"kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}}", "max {{horizontalpodautoscaler}}"),
        ], "short"),
        timeseries("Load against replicas", [
            Query(f"sum({queries.JOB_HTTP_SERVER_REQUESTS_RATE5M}{{{JOB}}})", "API requests/s"),
            Query(queries.MODELWATCH_REPLICAS_COUNT, "replicas reporting"),
        ], "short", description="Requests per second and the replicas the runtime reports (processes, containers or pods)."),
        timeseries("Autoscaling metric against its target", [
            Query(f"kube_horizontalpodautoscaler_status_target_metric{{{HPA}}}", "{{metric_name}} now"),
            Query(f"kube_horizontalpodautoscaler_spec_target_metric{{{HPA}}}", "{{metric_name}} target"),
        ], "short", width=24),
    ]
    cluster = [
        timeseries("Container restarts, last hour",
                   Query(f"sum by (pod, container) (increase(kube_pod_container_status_restarts_total{{{NS}}}[1h]))",
                         "{{pod}} {{container}}"), "short", thresholds=steps((3, RED)), show_thresholds=True),
        state_timeline("Pod readiness", Query(f'kube_pod_status_ready{{{NS}, condition="true"}}', "{{pod}}"), "none",
                       thresholds=steps((1, "green"), base=RED)),
        timeseries("Deployment replicas", [
            Query(f"kube_deployment_spec_replicas{{{NS}}}", "{{deployment}} wanted"),
            Query(f"kube_deployment_status_replicas_available{{{NS}}}", "{{deployment}} available"),
        ], "short"),
        timeseries("Node CPU in use", Query(
            'modelwatch_node_cpu_usage_cores / on (node) kube_node_status_allocatable{resource="cpu"}', "{{node}}"),
            "percentunit", thresholds=steps((0.7, ORANGE), (0.9, RED)), show_thresholds=True),
        timeseries("Node memory in use", Query(
            'modelwatch_node_memory_working_set_bytes / on (node) kube_node_status_allocatable{resource="memory"}',
            "{{node}}"), "percentunit", thresholds=steps((0.8, ORANGE), (0.9, RED)), show_thresholds=True),
        timeseries("Pod CPU", Query(f"sum by (pod) (modelwatch_pod_container_cpu_usage_cores{{{NS}}})", "{{pod}}"),
                   "short"),
    ]
    panels = rows(("Autoscaling", scaling), ("Cluster", cluster))
    variables = [
        variable("job", "job", "label_values(model_info, job)"),
        variable("namespace", "namespace", "label_values(kube_horizontalpodautoscaler_spec_max_replicas, namespace)",
                 multi=True),
        variable("hpa", "autoscaler",
                 'label_values(kube_horizontalpodautoscaler_spec_max_replicas{namespace=~"$namespace"}, '
                 "horizontalpodautoscaler)", multi=True),
    ]
    return dashboard("modelwatch / Autoscaling and cluster", UID,
                     "Replicas against load and the autoscaling target; pods and nodes where Kubernetes runs.",
                     panels, variables)
