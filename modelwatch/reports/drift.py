"""The report's drift section: for every model version that predicted in the
range, its largest drift figures (which feature, how far, against which
threshold) and a chart of its features' PSI over time.

The figures are the recorded drift series the alerts read, at their highest
in the range, so the section says what the alerts saw."""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelwatch.core import queries
from modelwatch.core.config import AlertsConfig, Config
from modelwatch.core.prometheus_api import PrometheusApi

WORST_FEATURES_CHARTED = 6  # lines per chart: the features with the largest PSI at each moment


@dataclass(frozen=True)
class Figure:
    """One drift statistic: the record it reads, and its warning and critical thresholds."""

    title: str
    record: str
    warning: float
    critical: float | None = None
    percent: bool = False


@dataclass(frozen=True)
class Worst:
    """A figure's highest value in the range, and the feature it belongs to ("" for model-level figures)."""

    value: float
    feature: str
    level: str  # "", "warning" or "critical"
    text: str  # as the report shows it: "island 0.71", "features drifting 60%"


@dataclass(frozen=True)
class ModelDrift:
    model: str
    version: str
    rows: float
    worst: dict[str, Worst]  # figure title -> its highest value (absent: no figure in the range)


def figures(alerts: AlertsConfig) -> list[Figure]:
    """The figures, with the thresholds of ``alerts`` (a model's own: ``AlertsConfig.for_model``)."""
    return [
        Figure("PSI (inputs)", queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_PSI1H,
               alerts.drift_psi_warning, alerts.drift_psi_critical),
        Figure("KS (numeric inputs)", queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_KS1H,
               alerts.drift_ks_warning, alerts.drift_ks_critical),
        Figure("Jensen-Shannon (categories)", queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_JS1H,
               alerts.drift_js_warning, alerts.drift_js_critical),
        Figure("unseen categories", queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_UNSEEN_RATIO1H,
               alerts.unseen_share_warning, percent=True),
        Figure("missing share over the reference",
               queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_INCREASE_RATIO1H,
               alerts.missing_share_increase, percent=True),
        Figure("outside the reference range", queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_OUT_OF_RANGE_RATIO1H,
               alerts.out_of_range_warning, percent=True),
        Figure("features drifting", queries.MODEL_VERSION_MODEL_INPUT_FEATURE_DRIFTED_RATIO1H,
               alerts.drift_feature_share, percent=True),
        Figure("class mix (PSI)", queries.MODEL_VERSION_MODEL_PREDICTED_CLASS_PSI1H,
               alerts.drift_psi_warning, alerts.drift_psi_critical),
        Figure("predicted values (PSI)", queries.MODEL_VERSION_MODEL_PREDICTION_BUCKET_PSI1H,
               alerts.drift_psi_warning, alerts.drift_psi_critical),
    ]


def _thresholds(config: Config, model: str) -> dict[str, Figure]:
    return {f.title: f for f in figures(config.alerts.for_model(model))}


def _level(figure: Figure, value: float) -> str:
    if figure.critical is not None and value > figure.critical:
        return "critical"
    return "warning" if value > figure.warning else ""


def _seconds(start: float, end: float) -> str:
    return f"{max(1, math.ceil(end - start))}s"


def model_drift(config: Config, prometheus: PrometheusApi, start: float, end: float) -> list[ModelDrift]:
    """Every model version that predicted rows in the range, with each drift figure at its highest."""
    # The figures are recomputed every drift_every_evaluations evaluations: a range shorter than that
    # may hold none of their samples, so look back at least to the last one.
    prom = config.prometheus
    window = _seconds(min(start, end - prom.evaluation_interval_seconds * prom.drift_every_evaluations), end)
    # increase() starts from the first sample inside its window: look one scrape further back, so
    # rows predicted just after ``start`` (before its first scrape) count.
    counted = _seconds(start - 2 * config.prometheus.scrape_interval_seconds, end)
    rows = {(s.labels["model_name"], s.labels["model_version"]): s.value for s in prometheus.query(
        f"sum by (model_name, model_version) (increase(model_predictions_total[{counted}]))", end) if s.value > 0}
    worst: dict[tuple[str, str], dict[str, Worst]] = {key: {} for key in rows}
    own = {model: _thresholds(config, model) for model, _ in rows}  # a model's own thresholds (alerts.models)
    for figure in figures(config.alerts):
        highest = prometheus.query(f"max by (model_name, model_version, feature) "
                                   f"(max_over_time({figure.record}[{window}]))", end)
        for sample in highest:
            key = (sample.labels.get("model_name", ""), sample.labels.get("model_version", ""))
            if key not in worst or sample.value != sample.value:  # no rows in the range, or NaN
                continue
            best = worst[key].get(figure.title)
            if best is None or sample.value > best.value:
                feature = sample.labels.get("feature", "")
                shown = f"{sample.value:.0%}" if figure.percent else f"{sample.value:.3g}"
                worst[key][figure.title] = Worst(sample.value, feature, _level(own[key[0]][figure.title], sample.value),
                                                 f"{feature} {shown}".strip())
    return [ModelDrift(model, version, rows[(model, version)], worst[(model, version)])
            for model, version in sorted(rows)]


def psi_chart_expr(model: str) -> str:
    """The features of one model with the largest PSI at each moment (every version)."""
    return (f"topk({WORST_FEATURES_CHARTED}, "
            f'{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_PSI1H}{{model_name={queries.quoted(model)}}})')

