"""The serving version against its recorded performance baseline.

``modelwatch baseline record`` writes, per model version, what a known-good
run looked like; the exporter publishes it as ``modelwatch_baseline_*``. These
rules pick the baseline of the *stable* version (the one most traffic sees)
and compare the live figures, recorded with the same rules the baseline was
read from. No baseline: the comparisons are empty (silent) and an info alert
says the version has none.
"""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.rules.builder import Alert, Group, Record
from modelwatch.rules.selectors import Selectors, number

LATENCY_QUANTILE = "latency_quantile"  # the exporter's label (modelwatch.exporter.collectors.baseline)

PERFORMANCE = (
    "latency_seconds", "requests_per_second_per_replica", "cpu_seconds_per_request",
    "memory_bytes_per_replica", "error_ratio",
)


def _published(metric: str, s: Selectors) -> str:
    """The exporter's baseline series of ``metric``, one per model version."""
    series = f"modelwatch_baseline_{metric}{{{s.exporter}}}"
    if metric != "latency_seconds":
        return f"max without (instance, job) ({series})"
    # The exporter names the quantile latency_quantile (``quantile`` is a summary's own label);
    # the record gives it the ``quantile`` label the live latency records carry, to compare on.
    relabelled = f'label_replace({series}, "quantile", "$1", "{LATENCY_QUANTILE}", "(.+)")'
    return f"max without (instance, job, {LATENCY_QUANTILE}) ({relabelled})"


def groups(s: Selectors) -> list[Group]:
    cfg = s.config.alerts
    factor, min_rate = number(cfg.baseline_factor), number(cfg.min_requests_per_second)
    records = [
        Record(queries.baseline_stable(metric), f"""
            {_published(metric, s)}
            * on (model_name, model_version) group_left ()
            max by (model_name, model_version) ({queries.MODELWATCH_MODEL_VERSION_INFO}{{role="stable"}})
            """)
        for metric in PERFORMANCE
    ]
    busy = f"and on (job) {queries.JOB_HTTP_SERVER_REQUESTS_RATE5M} >= {min_rate}"
    versus = "on () group_left (model_name, model_version)"
    alerts = [
        Alert(
            "ModelwatchLatencyAboveBaseline",
            f"""
            {queries.JOB_HTTP_SERVER_REQUEST_DURATION_SECONDS_HISTOGRAM_QUANTILE}{{quantile="0.95"}}
            > on (quantile) group_left (model_name, model_version)
              ({factor} * {queries.baseline_stable("latency_seconds")}{{quantile="0.95"}})
            {busy}
            """,
            "warning",
            "The model API is slower than its baseline.",
            f"p95 latency of {{{{ $labels.job }}}} is {{{{ $value | humanizeDuration }}}}, more than {factor}x the"
            " baseline recorded for {{ $labels.model_name }} {{ $labels.model_version }}.",
            for_="10m",
            explained_by=("service",),
        ),
        Alert(
            "ModelwatchErrorRatioAboveBaseline",
            f"""
            {queries.JOB_HTTP_SERVER_REQUEST_ERRORS_RATIO_RATE5M}
            > {versus} ({queries.baseline_stable("error_ratio")} + {number(cfg.baseline_error_ratio_margin)})
            {busy}
            """,
            "warning",
            "The model API fails more requests than in its baseline.",
            "{{ $value | humanizePercentage }} of API requests to {{ $labels.job }} failed with a 5xx, above the"
            " baseline of {{ $labels.model_name }} {{ $labels.model_version }} plus"
            f" {number(cfg.baseline_error_ratio_margin * 100)} points.",
            for_="10m",
            explained_by=("service",),
        ),
        Alert(
            "ModelwatchCpuPerRequestAboveBaseline",
            # Only under comparable load: at a trickle, scrapes and health checks dominate CPU per request.
            f"""
            {queries.MODELWATCH_CPU_SECONDS_PER_REQUEST_RATIO_RATE5M}
            > {versus} ({factor} * {queries.baseline_stable("cpu_seconds_per_request")})
            and on ()
            {queries.MODELWATCH_REQUESTS_PER_SECOND_PER_REPLICA_RATE5M}
            >= on () group_left () (0.25 * {queries.baseline_stable("requests_per_second_per_replica")})
            """,
            "warning",
            "Each request costs more CPU than in the baseline.",
            f"Requests cost {{{{ $value | humanizeDuration }}}} of CPU each, more than {factor}x the baseline of"
            " {{ $labels.model_name }} {{ $labels.model_version }}.",
            for_="15m",
        ),
        Alert(
            "ModelwatchMemoryAboveBaseline",
            f"""
            {queries.MODELWATCH_MEMORY_BYTES_PER_REPLICA_AVG}
            > {versus} ({factor} * {queries.baseline_stable("memory_bytes_per_replica")})
            """,
            "warning",
            "Replicas use more memory than in the baseline.",
            f"Replicas use {{{{ $value | humanize1024 }}}}B on average, more than {factor}x the baseline of"
            " {{ $labels.model_name }} {{ $labels.model_version }}: a leak, or a bigger model.",
            for_="30m",
        ),
        Alert(
            "ModelwatchPerformanceBaselineMissing",
            f"""
            {queries.MODELWATCH_MODEL_VERSION_INFO}
            unless on (model_name, model_version) modelwatch_baseline_latency_seconds
            """,
            "info",
            "A deployed model version has no performance baseline.",
            "{{ $labels.model_name }} {{ $labels.model_version }} serves as {{ $labels.role }} without a performance"
            " baseline, so latency, CPU and memory are not compared with anything. Record one after a"
            " known-good load run: modelwatch baseline record.",
            for_="1h",
            explained_by=("exporter",),
        ),
        Alert(
            "ModelwatchDataBaselineMissing",
            f"""
            {queries.MODELWATCH_MODEL_VERSION_INFO}
            unless on (model_name, model_version) modelwatch_baseline_rows
            """,
            "warning",
            "A deployed model version has no data baseline, so drift is not measured.",
            "{{ $labels.model_name }} {{ $labels.model_version }} serves as {{ $labels.role }} but the exporter"
            " publishes no data baseline for it: check data-baseline.json and"
            " modelwatch_baseline_load_failures_total.",
            for_="15m",
            explained_by=("exporter",),
        ),
    ]
    return [Group("modelwatch-baseline.rules", records), Group("modelwatch-baseline.alerts", alerts)]
