"""Replica CPU and memory in one shape for all three runtimes, and the
saturation and fault alerts on them.

A replica is what each runtime says it is (``modelwatch.core.runtimes``): a
worker process locally (the exporter's process collector), a container in
compose (cAdvisor names from the exporter's Docker collector) and a pod's
container on Kubernetes (cAdvisor via the kubelet). Each source is renamed to a
``replica`` label, so dashboards and the baseline comparisons read one series
whatever runs.
"""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.core.runtimes import RUNTIMES
from modelwatch.rules.builder import Alert, Group, Record
from modelwatch.rules.selectors import Selectors, number


def _per_replica(sources: list[tuple[str, str]]) -> str:
    """Union of per-runtime series, each summed by its replica label renamed to ``replica``."""
    terms = [
        f'sum by (replica) (label_replace({expr}, "replica", "$1", "{label}", "(.+)"))'
        for expr, label in sources
    ]
    return "\n  or ".join(terms)


def _replica_series(resource: str, s: Selectors, form=lambda series: series) -> str:
    """``resource`` of every runtime that has it (modelwatch.core.runtimes), one ``replica`` label."""
    return _per_replica([
        (form(f"{runtime.series[resource]}{{{runtime.selector(resource, s.config)}}}"), runtime.replica_label)
        for runtime in RUNTIMES.values() if resource in runtime.series
    ])


def _rate(series: str) -> str:
    return f"rate({series}[5m])"


def groups(s: Selectors) -> list[Group]:
    cfg = s.config.alerts
    records = [
        Record(queries.MODELWATCH_REPLICA_CPU_SECONDS_RATE5M, _replica_series("cpu_seconds", s, _rate)),
        Record(queries.MODELWATCH_REPLICA_MEMORY_BYTES_SUM, _replica_series("memory_bytes", s)),
        # Containers only; 0 means unlimited, which is no limit to approach.
        Record(queries.MODELWATCH_REPLICA_MEMORY_LIMIT_BYTES_SUM,
               _replica_series("memory_limit_bytes", s, lambda series: f"{series} > 0")),
        Record(queries.MODELWATCH_REPLICA_READ_BYTES_RATE5M, _replica_series("read_bytes", s, _rate)),
        Record(queries.MODELWATCH_REPLICA_WRITE_BYTES_RATE5M, _replica_series("write_bytes", s, _rate)),
        *(
            # Processes share the host's network: it stands in as one replica, "host".
            Record(f"modelwatch:replica_network_{direction}_bytes:rate5m",
                   _replica_series(f"network_{direction}_bytes", s, _rate)
                   + f'\n  or label_replace(sum(rate(node_network_{direction}_bytes_total[5m])), "replica", "host", "", "")')
            for direction in ("receive", "transmit")
        ),
        Record(queries.MODELWATCH_REPLICAS_COUNT, f"count({queries.MODELWATCH_REPLICA_MEMORY_BYTES_SUM})"),
        Record(queries.MODELWATCH_MEMORY_BYTES_PER_REPLICA_AVG, f"avg({queries.MODELWATCH_REPLICA_MEMORY_BYTES_SUM})"),
        Record(
            queries.MODELWATCH_CPU_SECONDS_PER_REQUEST_RATIO_RATE5M,
            f"sum({queries.MODELWATCH_REPLICA_CPU_SECONDS_RATE5M}) / on () sum({queries.JOB_HTTP_SERVER_REQUESTS_RATE5M})",
        ),
        Record(
            queries.MODELWATCH_REQUESTS_PER_SECOND_PER_REPLICA_RATE5M,
            f"sum({queries.JOB_HTTP_SERVER_REQUESTS_RATE5M}) / on () {queries.MODELWATCH_REPLICAS_COUNT}",
        ),
    ]
    alerts = [
        Alert(
            "ModelwatchReplicaCpuSaturated",
            f"{queries.MODELWATCH_REPLICA_CPU_SECONDS_RATE5M} > {number(cfg.replica_cpu_saturation_cores)}",
            "warning",
            "A model service replica is using all the CPU it can.",
            "Replica {{ $labels.replica }} has used {{ $value | printf \"%.2f\" }} cores for 15 minutes; a Python"
            " worker cannot use much more than one. Requests queue behind it: add replicas or check the autoscaler.",
            for_="15m",
        ),
        Alert(
            "ModelwatchReplicaMemoryNearLimit",
            f"""
            {queries.MODELWATCH_REPLICA_MEMORY_BYTES_SUM} / on (replica) {queries.MODELWATCH_REPLICA_MEMORY_LIMIT_BYTES_SUM}
            > {number(cfg.replica_memory_limit_ratio)}
            """,
            "warning",
            "A model service replica is close to its memory limit.",
            "Replica {{ $labels.replica }} uses {{ $value | humanizePercentage }} of its memory limit; at the limit"
            " it is OOM-killed.",
            for_="15m",
        ),
        # node-mixin's pair: under 15 % and full within a day (ticket), under 10 % and full within 4 hours (page).
        *(
            Alert(
                "ModelwatchDiskFillingUp",
                f"""
                node_filesystem_avail_bytes / node_filesystem_size_bytes < {share}
                and predict_linear(node_filesystem_avail_bytes[6h], {hours} * 3600) < 0
                """,
                severity,
                f"A filesystem is predicted to fill up within {horizon}.",
                "{{ $labels.mountpoint }} ({{ $labels.device }}) has {{ $value | humanizePercentage }} space left and,"
                f" at the rate of the last 6 hours, fills up within {hours} hours.",
                for_="1h",
            )
            for severity, share, hours, horizon in (("warning", 0.15, 24, "a day"), ("critical", 0.1, 4, "four hours"))
        ),
        Alert(
            "ModelwatchContainerRestarting",
            """
            increase(kube_pod_container_status_restarts_total[1h]) >= 3
            or
            max_over_time(modelwatch_container_restarts[1h]) - min_over_time(modelwatch_container_restarts[1h]) >= 3
            """,
            "warning",
            "A container keeps restarting.",
            "{{ with $labels.pod }}Pod {{ . }} container {{ $labels.container }}{{ else }}Container"
            " {{ $labels.name }}{{ end }} restarted {{ $value | printf \"%.0f\" }} times in the last hour.",
        ),
        Alert(
            "ModelwatchContainerOomKilled",
            """
            kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1
            and on (namespace, pod, container) increase(kube_pod_container_status_restarts_total[10m]) > 0
            """,
            "warning",
            "A container was killed for running out of memory.",
            "Pod {{ $labels.namespace }}/{{ $labels.pod }} container {{ $labels.container }} was OOM-killed and"
            " restarted in the last 10 minutes.",
        ),
    ]
    return [Group("modelwatch-resources.rules", records), Group("modelwatch-resources.alerts", alerts)]
