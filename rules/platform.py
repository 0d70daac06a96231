"""Is everything there and working: scrape targets, the exporter's collectors,
model reloads, the synthetic probe, and the autoscaler (kube-state-metrics'
HPA series, which the local autoscaler exports too)."""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.rules.builder import Alert, Group, Record
from modelwatch.rules.selectors import Selectors

HPA = "namespace, horizontalpodautoscaler"
WATCHDOG = "ModelwatchWatchdog"


def groups(s: Selectors) -> list[Group]:
    cfg = s.config.alerts
    own_jobs = f'job!~"{cfg.service_job}|{cfg.exporter_job}"'
    # a listing is due every refresh and may take a request timeout
    exporter = s.config.exporter
    listing_seconds = exporter.kubernetes_refresh_seconds + exporter.kubernetes_request_timeout_seconds
    targets = [
        Alert(
            WATCHDOG,
            "vector(1)",
            "info",
            "Always firing: the alerting pipeline works.",
            "Prometheus evaluates rules and Alertmanager sends notifications. A dead-man's switch (see"
            " prometheus.watchdog_webhook_url) raises the alarm when this stops arriving.",
        ),
        Alert(
            "ModelwatchServiceDown",
            f"max by (job) (up{{{s.service}}}) == 0 or absent(up{{{s.service}}})",
            "critical",
            "The model service is down.",
            "No replica of {{ $labels.job }} has answered Prometheus's scrapes for 2 minutes; clients get errors"
            " or time out.",
            for_="2m",
            outage="service",
        ),
        Alert(
            "ModelwatchReplicaDown",
            f"up{{{s.service}}} == 0",
            "warning",
            "A model service replica is down.",
            "{{ $labels.instance }} of {{ $labels.job }} has not answered Prometheus's scrapes for 5 minutes; the"
            " other replicas carry its load.",
            for_="5m",
            explained_by=("service",),
        ),
        Alert(
            "ModelwatchExporterDown",
            f"up{{{s.exporter}}} == 0 or absent(up{{{s.exporter}}})",
            "warning",
            "The modelwatch exporter is down.",
            "{{ $labels.job }} has not been scraped for 5 minutes: baselines, drift, host and container metrics"
            " are missing.",
            for_="5m",
            outage="exporter",
        ),
        Alert(
            "ModelwatchTargetDown",
            f"up{{{own_jobs}}} == 0",
            "warning",
            "A monitoring target cannot be scraped.",
            "{{ $labels.instance }} of job {{ $labels.job }} has failed its scrapes for 5 minutes.",
            for_="5m",
        ),
        Alert(
            "ModelwatchCollectorFailing",
            f"modelwatch_scrape_collector_success{{{s.exporter}}} == 0",
            "warning",
            "An exporter collector keeps failing.",
            "The {{ $labels.collector }} collector of {{ $labels.instance }} has failed for 10 minutes; its series"
            " are stale or missing (see modelwatch_scrape_collector_error_info).",
            for_="10m",
            explained_by=("exporter",),
        ),
        Alert(
            "ModelwatchKubernetesListingStale",
            f"modelwatch_kubernetes_cache_age_seconds{{{s.exporter}}} > {2 * listing_seconds:g}",
            "warning",
            "The cluster state the exporter serves is old.",
            "{{ $labels.instance }} last listed the Kubernetes API {{ $value | humanizeDuration }} ago: replica,"
            " pod and HPA series show the cluster as it was then. The API server is slow, silent or refuses the"
            " exporter's service account.",
            for_="5m",
            explained_by=("exporter",),
        ),
    ]
    model = [
        Alert(
            "ModelwatchModelReloadFailed",
            f"increase(model_reload_failures_total{{{s.service}}}[10m]) > 0",
            "warning",
            "A model version was rejected at load.",
            "{{ $labels.instance }} rejected a version of {{ $labels.model_name }} ({{ $labels.reason }}) in the"
            " last 10 minutes; the versions already loaded keep serving.",
        ),
        Alert(
            "ModelwatchDeploymentNotServed",
            f"min by (job, instance, model_name) (model_deployment_current{{{s.service}}}) == 0",
            "warning",
            "A replica does not serve the registry's current deployment.",
            "A worker of {{ $labels.instance }} has failed to load the changed deployment of"
            " {{ $labels.model_name }} for 5 minutes and keeps serving the versions it had; it retries every poll.",
            for_="5m",
        ),
        Alert(
            "ModelwatchKeysFileUnreadable",
            f"increase(model_keys_reload_failures_total{{{s.service}}}[10m]) > 0",
            "warning",
            "The API keys file changed and could not be read.",
            "{{ $labels.instance }} could not read its changed keys file in the last 10 minutes; it keeps the keys"
            " it read before, so keys added or removed since then are not in effect.",
        ),
        Alert(
            "ModelwatchLibraryVersionMismatch",
            "max by (job, model_name, model_version, library, registered, running)"
            f" (model_library_version_mismatch{{{s.service}}}) == 1",
            "warning",
            "A model version runs with other library versions than it was registered with.",
            "{{ $labels.model_name }} {{ $labels.model_version }} was registered with {{ $labels.library }}"
            " {{ $labels.registered }} and is served with {{ $labels.library }} {{ $labels.running }} (empty: not"
            " installed). Its probe rows still answer as recorded, but other inputs may not.",
            for_="10m",
        ),
        Alert(
            "ModelwatchProbeFailing",
            "modelwatch_probe_success == 0",
            "critical",
            "The synthetic probe cannot get an answer from the model API.",
            "Probes of {{ $labels.target }} have failed for 5 minutes: clients likely see the same (the result label"
            " of modelwatch_probe_requests_total says whether the API failed or the probe could not read its inputs).",
            for_="5m",
        ),
        Alert(
            "ModelwatchProbeWrongAnswer",
            "modelwatch_probe_answer_correct == 0 and on (instance, target) modelwatch_probe_success == 1",
            "critical",
            "The model API answers the probe wrongly.",
            "{{ $labels.target }} answers the probe's recorded inputs differently from what the version said at"
            " training, for 5 minutes: a wrong artifact or a broken prediction path is serving.",
            for_="5m",
        ),
    ]
    autoscaler = [
        Alert(
            "ModelwatchAutoscalerAtMaxReplicas",
            f"""
            kube_horizontalpodautoscaler_status_current_replicas
            >= on ({HPA}) kube_horizontalpodautoscaler_spec_max_replicas
            and on ({HPA})
            kube_horizontalpodautoscaler_status_desired_replicas
            >= on ({HPA}) kube_horizontalpodautoscaler_spec_max_replicas
            """,
            "warning",
            "The autoscaler is pinned at its maximum replicas.",
            "{{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has run at its maximum of"
            " {{ $value }} replicas for 15 minutes and wants no fewer: raise the maximum or add capacity.",
            for_="15m",
        ),
        Alert(
            "ModelwatchAutoscalerMetricMissing",
            "modelwatch_autoscaler_metric_available == 0",
            "warning",
            "The local autoscaler cannot read its metric and holds the replica count.",
            "{{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has not been able to read its scaling"
            " metric from Prometheus for 5 minutes: it keeps the current replicas whatever the load.",
            for_="5m",
        ),
        Alert(
            "ModelwatchAutoscalerFlapping",
            f"changes({queries.HPA_DESIRED_REPLICAS_DIRECTION}[30m]) >= {cfg.autoscaler_flap_reversals}",
            "warning",
            "The autoscaler keeps changing its mind.",
            "{{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} reversed the direction of its desired"
            " replicas {{ $value }} times in 30 minutes: lengthen the scale-down stabilization window or widen the"
            " tolerance.",
        ),
        Alert(
            "ModelwatchAutoscalerReplicasMismatch",
            f"""
            kube_horizontalpodautoscaler_status_desired_replicas
            != on ({HPA}) kube_horizontalpodautoscaler_status_current_replicas
            and on ({HPA}) changes(kube_horizontalpodautoscaler_status_current_replicas[15m]) == 0
            and on ({HPA}) (
              kube_horizontalpodautoscaler_status_current_replicas
              < on ({HPA}) kube_horizontalpodautoscaler_spec_max_replicas
            )
            """,
            "warning",
            "The autoscaler cannot reach its desired replicas.",
            "{{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} wants {{ $value }} replicas but has"
            " stayed at another count for 15 minutes: replicas fail to start or the cluster is full.",
            for_="15m",
        ),
    ]
    return [
        Group("modelwatch-targets.alerts", targets),
        Group("modelwatch-model.alerts", model),
        Group("modelwatch-autoscaler.rules", [_direction()]),
        Group("modelwatch-autoscaler.alerts", autoscaler),
    ]


def _direction() -> Record:
    """+1 or -1: the direction of the desired replicas' latest change, held until the next
    change. Its changes are reversals: a step up and back down is one, not four changes of
    the count, so only a back-and-forth reads as flapping. It ends with its HPA's series."""
    desired = "kube_horizontalpodautoscaler_status_desired_replicas"
    direction = queries.HPA_DESIRED_REPLICAS_DIRECTION
    return Record(direction, f"""
        (
          sgn(idelta({desired}[2m])) != 0
          or {direction}
        )
        and {desired}
        """)
