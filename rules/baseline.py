"""The serving version against its recorded performance baseline.

``modelwatch baseline record`` writes, per model version, what a known-good
run looked like; the exporter publishes it as ``modelwatch_baseline_*``. These
rules pick the baseline of the *stable* version (the one most traffic sees)
and compare the live figures, recorded with the same rules the baseline was
read from. No baseline: the comparisons are empty (silent) and an info alert
says the version has none.
"""

from __future__ import annotations

from modelwatch.rules.builder import Alert, Group, Record
from modelwatch.rules.selectors import Selectors, number

PERFORMANCE = (
    "latency_seconds", "requests_per_second_per_replica", "cpu_seconds_per_request",
    "memory_bytes_per_replica", "error_ratio",
)


def stable(metric: str) -> str:
    return f"model_version:modelwatch_baseline_{metric}:stable"


def groups(s: Selectors) -> list[Group]:
    cfg = s.config.alerts
    factor, min_rate = number(cfg.baseline_factor), number(cfg.min_requests_per_second)
    records = [
        Record(stable(metric), f"""
            max without (instance, job) (modelwatch_baseline_{metric}{{{s.exporter}}})
            * on (model_name, model_version) group_left ()
            max by (model_name, model_version) (modelwatch:model_version:info{{role="stable"}})
            """)
        for metric in PERFORMANCE
    ]
    busy = f"and on (job) job:http_server_requests:rate5m >= {min_rate}"
    versus = "on () group_left (model_name, model_version)"
    alerts = [
        Alert(
            "ModelwatchLatencyAboveBaseline",
            f"""
            job:http_server_request_duration_seconds:histogram_quantile{{quantile="0.95"}}
            > on (quantile) group_left (model_name, model_version)
              ({factor} * {stable("latency_seconds")}{{quantile="0.95"}})
            {busy}
            """,
            "warning",
            "The model API is slower than its baseline.",
            f"p95 latency of {{{{ $labels.job }}}} is {{{{ $value | humanizeDuration }}}}, more than {factor}x the"
            " baseline recorded for {{ $labels.model_name }} {{ $labels.model_version }}.",
            for_="10m",
        ),
        Alert(
            "ModelwatchErrorRatioAboveBaseline",
            f"""
            job:http_server_request_errors:ratio_rate5m
            > {versus} ({stable("error_ratio")} + {number(cfg.baseline_error_ratio_margin)})
            {busy}
            """,
            "warning",
            "The model API fails more requests than in its baseline.",
            "{{ $value | humanizePercentage }} of API requests to {{ $labels.job }} failed with a 5xx, above the"
            " baseline of {{ $labels.model_name }} {{ $labels.model_version }} plus"
            f" {number(cfg.baseline_error_ratio_margin * 100)} points.",
            for_="10m",
        ),
        Alert(
            "ModelwatchCpuPerRequestAboveBaseline",
            # Only under comparable load: at a trickle, scrapes and health checks dominate CPU per request.
            f"""
            modelwatch:cpu_seconds_per_request:ratio_rate5m
            > {versus} ({factor} * {stable("cpu_seconds_per_request")})
            and on ()
            modelwatch:requests_per_second_per_replica:rate5m
            >= on () group_left () (0.25 * {stable("requests_per_second_per_replica")})
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
            modelwatch:memory_bytes_per_replica:avg
            > {versus} ({factor} * {stable("memory_bytes_per_replica")})
            """,
            "warning",
            "Replicas use more memory than in the baseline.",
            f"Replicas use {{{{ $value | humanize1024 }}}}B on average, more than {factor}x the baseline of"
            " {{ $labels.model_name }} {{ $labels.model_version }}: a leak, or a bigger model.",
            for_="30m",
        ),
        Alert(
            "ModelwatchPerformanceBaselineMissing",
            """
            modelwatch:model_version:info
            unless on (model_name, model_version) modelwatch_baseline_latency_seconds
            """,
            "info",
            "A deployed model version has no performance baseline.",
            "{{ $labels.model_name }} {{ $labels.model_version }} serves as {{ $labels.role }} without a performance"
            " baseline, so latency, CPU and memory are not compared with anything. Record one after a"
            " known-good load run: modelwatch baseline record.",
            for_="1h",
        ),
        Alert(
            "ModelwatchDataBaselineMissing",
            """
            modelwatch:model_version:info
            unless on (model_name, model_version) modelwatch_baseline_rows
            """,
            "warning",
            "A deployed model version has no data baseline, so drift is not measured.",
            "{{ $labels.model_name }} {{ $labels.model_version }} serves as {{ $labels.role }} but the exporter"
            " publishes no data baseline for it: check data-baseline.json and"
            " modelwatch_baseline_load_failures_total.",
            for_="15m",
        ),
    ]
    return [Group("modelwatch-baseline.rules", records), Group("modelwatch-baseline.alerts", alerts)]
