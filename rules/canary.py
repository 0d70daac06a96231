"""The canary version against the stable one, side by side on the same traffic
mix: per-version error ratio and p95 inference time (the HTTP series carry no
version; the model series do)."""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.rules.builder import Alert, Group
from modelwatch.rules.selectors import Selectors, number


def _in_role(series: str, role: str) -> str:
    return f'({series} * on (model_name, model_version) group_left (role) {queries.MODELWATCH_MODEL_VERSION_INFO}{{role="{role}"}})'


def groups(s: Selectors) -> list[Group]:
    cfg = s.config.alerts
    factor = number(cfg.canary_factor)
    busy = (
        "and on (job, model_name, model_version) "
        f"{queries.JOB_MODEL_VERSION_MODEL_PREDICTIONS_RATE5M} >= {number(cfg.min_requests_per_second)}"
    )
    p95 = f'{queries.JOB_MODEL_VERSION_MODEL_INFERENCE_DURATION_SECONDS_HISTOGRAM_QUANTILE}{{quantile="0.95"}}'
    errors = queries.JOB_MODEL_VERSION_MODEL_PREDICTION_ERRORS_RATIO_RATE5M
    alerts = [
        Alert(
            "ModelwatchCanaryLatencyHigh",
            f"""
            {_in_role(p95, "canary")}
            > on (job, model_name, quantile) group_left ()
              ({factor} * {_in_role(p95, "stable")})
            {busy}
            """,
            "warning",
            "The canary version is slower than the stable version.",
            "Canary {{ $labels.model_name }} {{ $labels.model_version }} takes {{ $value | humanizeDuration }} at"
            f" p95 to predict, more than {factor}x the stable version. Consider rolling it back:"
            " modelwatch deploy --no-canary.",
            for_="10m",
            explained_by=("service",),
        ),
        Alert(
            "ModelwatchCanaryErrorRatioHigh",
            f"""
            {_in_role(errors, "canary")}
            > on (job, model_name) group_left ()
              ({factor} * {_in_role(errors, "stable")} + {number(cfg.baseline_error_ratio_margin)})
            {busy}
            """,
            "warning",
            "The canary version fails more predictions than the stable version.",
            "Canary {{ $labels.model_name }} {{ $labels.model_version }} fails {{ $value | humanizePercentage }}"
            f" of its predictions, more than {factor}x the stable version. Consider rolling it back.",
            for_="10m",
            explained_by=("service",),
        ),
    ]
    return [Group("modelwatch-canary.alerts", alerts)]
