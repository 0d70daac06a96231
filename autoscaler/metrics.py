"""The autoscaling metrics as PromQL — one definition, used by the local
autoscaler and written into the Kubernetes manifests (KEDA's ScaledObject,
prometheus-adapter's rule), so every runtime scales on the same number."""

from __future__ import annotations

from dataclasses import dataclass

from modelwatch.core.config import Config



def window(config: Config) -> str:
    """Four scrapes, at least 30 s: short enough to follow a step in load (1m at the default 15 s scrapes)."""
    return f"{int(max(30, 4 * config.prometheus.scrape_interval_seconds))}s"


@dataclass(frozen=True)
class ScalingMetric:
    name: str  # as in kube_horizontalpodautoscaler_*_target_metric{metric_name}
    query: str
    target: float  # per replica
    per_replica: bool  # True: the query returns one sample per replica (label "replica"); False: a total


def _zero_while_up(job: str) -> str:
    # A service that is up but has had no API request has no series yet: that is zero load. A
    # service that is not scraped gives nothing at all: missing, and the autoscaler holds.
    return f' or (max(up{{job="{job}"}}) == 1) * 0'


def scaling_metric(config: Config) -> ScalingMetric:
    scaler, job, span = config.autoscaler, config.alerts.service_job, window(config)
    if scaler.metric == "requests":
        return ScalingMetric(
            "http_server_requests_per_second",
            f'sum(rate(http_server_request_duration_seconds_count{{job="{job}", '
            f'http_route=~"{config.slo.route_regex}"}}[{span}])){_zero_while_up(job)}',
            scaler.target_requests_per_second, per_replica=False,
        )
    if scaler.metric == "inflight":
        return ScalingMetric(
            "http_server_active_requests", f'sum(http_server_active_requests{{job="{job}"}}){_zero_while_up(job)}',
            scaler.target_inflight, per_replica=False,
        )
    return ScalingMetric(
        "cpu_cores",
        f'sum by (replica) (label_replace(rate(modelwatch_process_cpu_seconds_total{{groupname='
        f'"{config.exporter.process_groupname}"}}[{span}]), "replica", "$1", "pid", "(.+)"))',
        scaler.target_cpu_cores, per_replica=True,
    )
