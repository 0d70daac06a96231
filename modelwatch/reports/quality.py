"""The report's quality section: for every model version that got labels in
the range, its live quality over the whole range beside its reference quality
(accuracy and macro-F1 for a classifier, MAE and RMSE for a regressor), how
many labels that rests on, the labelled share of its predictions and the
median label delay; and a chart per model of the 10-minute figures the alerts
read, against the reference.

The figures come from the counters themselves over the range (the confusion
matrix, the error sums), not from the recorded windows: a range of three hours
gets its three hours' quality. They are counted exactly (queries.counted_increase),
not extrapolated as increase() does: "on 104 labels" means 104 were accepted."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from modelwatch.core import queries
from modelwatch.core.config import AlertsConfig, Config
from modelwatch.core.prometheus_api import PrometheusApi

BY = "model_name, model_version"


@dataclass(frozen=True)
class ModelQuality:
    model: str
    version: str
    labels: float  # accepted in the range
    refused: float  # duplicates, unknown or expired ids, invalid labels
    coverage: float | None  # labels per successful prediction in the range
    delay_seconds: float | None  # median, prediction to label
    live: dict[str, float] = field(default_factory=dict)  # accuracy, f1_macro or mae, rmse
    reference: dict[str, float] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return "regression" if "rmse" in self.live else "classification"

    def worse(self, alerts: AlertsConfig) -> list[str]:
        """The metrics the alerts would call worse than the reference (with enough labels)."""
        if self.labels < alerts.quality_min_labels:
            return []
        worse = [m for m in ("accuracy", "f1_macro")
                 if m in self.live and m in self.reference and self.live[m] < self.reference[m] - alerts.quality_margin]
        if "rmse" in self.live and "rmse" in self.reference and \
                self.live["rmse"] > alerts.quality_error_factor * self.reference["rmse"]:
            worse.append("rmse")
        return worse


def _window_seconds(start: float, end: float, scrape_seconds: float) -> int:
    # Counted from the last sample before the window: one scrape further back counts labels sent just
    # after ``start``.
    return max(1, math.ceil(end - start + 2 * scrape_seconds))


def _by_version(prometheus: PrometheusApi, expr: str, at: float, *extra: str) -> dict[tuple, float]:
    return {(s.labels.get("model_name", ""), s.labels.get("model_version", ""),
             *(s.labels.get(label, "") for label in extra)): s.value
            for s in prometheus.query(expr, at) if s.value == s.value}


def classification_figures(confusion: dict[tuple[str, str], float]) -> dict[str, float]:
    """Accuracy and macro-F1 from (predicted, actual) counts: F1 over every class predicted or seen,
    as scikit-learn's ``f1_score(average="macro")``."""
    total = sum(confusion.values())
    if total <= 0:
        return {}
    classes = {c for pair in confusion for c in pair}
    correct = {c: confusion.get((c, c), 0.0) for c in classes}
    predicted = {c: sum(n for (p, _), n in confusion.items() if p == c) for c in classes}
    actual = {c: sum(n for (_, a), n in confusion.items() if a == c) for c in classes}
    f1 = [2 * correct[c] / (predicted[c] + actual[c]) for c in classes if predicted[c] + actual[c] > 0]
    return {"accuracy": sum(correct.values()) / total, "f1_macro": sum(f1) / len(f1)}


def model_quality(config: Config, prometheus: PrometheusApi, start: float, end: float) -> list[ModelQuality]:
    """Every model version with accepted labels in the range."""
    window = _window_seconds(start, end, config.prometheus.scrape_interval_seconds)

    def counted(selector: str) -> str:
        return queries.counted_increase(selector, window)

    outcomes = _by_version(prometheus, f"sum by ({BY}, outcome) ({counted('model_feedback_total')})", end, "outcome")
    labelled = {(m, v) for (m, v, outcome), n in outcomes.items() if outcome == "accepted" and n > 0}
    if not labelled:
        return []
    confusion = _by_version(prometheus, f"sum by ({BY}, predicted, actual) ({counted('model_confusion_total')})", end,
                            "predicted", "actual")
    errors = {name: _by_version(prometheus, f"sum by ({BY}) ({counted(metric)})", end)
              for name, metric in (("count", "model_prediction_absolute_error_count"),
                                   ("absolute", "model_prediction_absolute_error_sum"),
                                   ("squared", "model_prediction_squared_error_total"))}
    successes = counted('model_predictions_total{outcome="success"}')
    predictions = _by_version(prometheus, f"sum by ({BY}) ({successes})", end)
    delays = _by_version(prometheus, f"histogram_quantile(0.5, sum by ({BY}, le) "
                                     f"({counted('model_label_delay_seconds_bucket')}))", end)
    reference = _by_version(prometheus, "max by (model_name, model_version, metric) (modelwatch_baseline_quality)",
                            end, "metric")
    found = []
    for model, version in sorted(labelled):
        key = (model, version)
        labels = outcomes[(model, version, "accepted")]
        count = errors["count"].get(key, 0.0)
        if count > 0:
            live = {"mae": errors["absolute"].get(key, 0.0) / count,
                    "rmse": math.sqrt(errors["squared"].get(key, 0.0) / count)}
        else:
            live = classification_figures({(p, a): n for (m, v, p, a), n in confusion.items() if (m, v) == key})
        served = predictions.get(key, 0.0)
        found.append(ModelQuality(
            model, version, labels,
            refused=sum(n for (m, v, outcome), n in outcomes.items() if (m, v) == key and outcome != "accepted"),
            coverage=labels / served if served > 0 else None,
            delay_seconds=delays.get(key),
            live=live,
            reference={metric: value for (m, v, metric), value in reference.items() if (m, v) == key},
        ))
    return found


def chart_lines(model: str, task: str) -> tuple[tuple[str, str, str], ...]:
    """(label, PromQL, line style) of one model's quality chart: the figure the alerts read, and the reference."""
    metric, record, name = (("rmse", queries.MODEL_VERSION_MODEL_PREDICTION_ERROR_RMSE10M, "RMSE")
                            if task == "regression" else ("accuracy", queries.MODEL_VERSION_MODEL_ACCURACY_RATIO10M,
                                                          "accuracy"))
    model_name = f"model_name={queries.quoted(model)}"
    return ((f"{name}, last 10 min ({{model_version}})", f"{record}{{{model_name}}}", "-"),
            (f"reference {name} ({{model_version}})",
             f'max by (model_name, model_version) (modelwatch_baseline_quality{{{model_name}, metric="{metric}"}})', "--"))
