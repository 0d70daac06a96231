"""Live model quality from labels sent later (``POST .../feedback``), over 10
minutes (what the alerts read), an hour and a day, beside the reference
quality each version showed at registration (the exporter's
``modelwatch_baseline_quality``).

Classifiers: accuracy, per-class precision, recall and F1 (``2·TP / (predicted
+ actual)``, defined wherever the class was predicted or seen, as
scikit-learn's), macro-F1 over those classes. The service counts the confusion
matrix and its diagonal (``model_correct_predictions_total``): PromQL cannot
compare two labels, so the diagonal could not be picked out of the matrix.
Regressors: MAE and RMSE from the error sums. Coverage: labels per prediction.

Windows with no labels record nothing (no 0/0 NaN). The alerts wait for
``alerts.quality_min_labels`` labels in their window: three labels say nothing.
"""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.core.queries import quality_record
from modelwatch.rules.builder import Alert, Group, Record
from modelwatch.rules.selectors import Selectors, number

BY = "job, model_name, model_version"
BASELINE_QUALITY = "modelwatch_baseline_quality"


def _records(s: Selectors, window: str) -> list[Record]:
    service = s.service

    def increase(metric: str, extra: str = "") -> str:
        return f"increase({metric}{{{service}{extra}}}[{window}])"

    counted = {
        "predicted": f'label_replace({increase("model_confusion_total")}, "class", "$1", "predicted", "(.*)")',
        "actual": f'label_replace({increase("model_confusion_total")}, "class", "$1", "actual", "(.*)")',
        "correct": increase("model_correct_predictions_total"),
    }
    names = {key: quality_record("model_version_class", f"model_labelled_{key}", "increase", window) for key in counted}
    accepted = increase("model_feedback_total", ', outcome="accepted"')
    rules = [Record(quality_record("model_version", "model_labels", "increase", window), f"sum by ({BY}) ({accepted})")]
    rules += [Record(names[key], f"sum by ({BY}, class) ({source})") for key, source in counted.items()]
    correct, predicted, actual = names["correct"], names["predicted"], names["actual"]
    f1 = quality_record("model_version_class", "model_f1", "ratio", window)
    rules += [
        Record(quality_record("model_version", "model_accuracy", "ratio", window),
               f"sum by ({BY}) ({correct}) / (sum by ({BY}) ({predicted}) > 0)"),
        Record(quality_record("model_version_class", "model_precision", "ratio", window),
               f"{correct} / ({predicted} > 0)"),
        Record(quality_record("model_version_class", "model_recall", "ratio", window), f"{correct} / ({actual} > 0)"),
        Record(f1, f"2 * {correct} / ({predicted} + {actual} > 0)"),
        Record(quality_record("model_version", "model_f1_macro", "ratio", window), f"avg by ({BY}) ({f1})"),
    ]
    count = f'sum by ({BY}) ({increase("model_prediction_absolute_error_count")})'
    rules.append(Record(quality_record("model_version", "model_prediction_error", "rmse", window),
                        f'sqrt(sum by ({BY}) ({increase("model_prediction_squared_error_total")}) / ({count} > 0))'))
    if window != "10m":
        rules += [
            Record(quality_record("model_version", "model_prediction_error", "mae", window),
                   f'sum by ({BY}) ({increase("model_prediction_absolute_error_sum")}) / ({count} > 0)'),
        ]
    return rules


def _enough_labels(s: Selectors) -> str:
    return f"and on ({BY}) {queries.MODEL_VERSION_MODEL_LABELS_INCREASE10M} >= {s.config.alerts.quality_min_labels}"


def _against_reference(s: Selectors, live: str, comparison: str, metric: str, adjusted: str) -> str:
    """``live`` compared with the version's reference ``metric``, written ``adjusted`` (x: the reference).
    The exporter's series carry its own job (and one per exporter): joined on the model and version."""
    reference = adjusted.replace("x", f'max without (instance, job) ({BASELINE_QUALITY}{{{s.exporter}, metric="{metric}"}})')
    return f"{live} {comparison} on (model_name, model_version) group_left () ({reference})"


def _in_role(series: str, role: str) -> str:
    return (f"({series} * on (model_name, model_version) group_left (role) "
            f'{queries.MODELWATCH_MODEL_VERSION_INFO}{{role="{role}"}})')


def _alerts(s: Selectors) -> list[Alert]:
    cfg = s.config.alerts
    margin, factor = number(cfg.quality_margin), number(cfg.quality_error_factor)
    accuracy, f1 = queries.MODEL_VERSION_MODEL_ACCURACY_RATIO10M, queries.MODEL_VERSION_MODEL_F1_MACRO_RATIO10M
    rmse = queries.MODEL_VERSION_MODEL_PREDICTION_ERROR_RMSE10M
    enough = _enough_labels(s)
    labels_1h = f"{queries.MODEL_VERSION_MODEL_LABELS_INCREASE1H} >= {cfg.quality_min_labels}"
    return [
        Alert(
            "ModelwatchModelAccuracyBelowReference",
            f"""
            (
              {_against_reference(s, accuracy, "<", "accuracy", f"x - {margin}")}
            or
              {_against_reference(s, f1, "<", "f1_macro", f"x - {margin}")}
            )
            {enough}
            """,
            "warning",
            "A model version's live accuracy or macro-F1 is below its reference quality.",
            "{{ $labels.model_name }} {{ $labels.model_version }} scores {{ $value | humanizePercentage }} on the"
            f" labels of the last 10 minutes, more than {margin} below what it scored on its reference data."
            " The inputs or what they mean may have changed (concept drift): see the drift and quality dashboards.",
            for_="5m",
            explained_by=("service",),
        ),
        Alert(
            "ModelwatchModelErrorAboveReference",
            f"""
            {_against_reference(s, rmse, ">", "rmse", f"{factor} * x")}
            {enough}
            """,
            "warning",
            "A regressor's live RMSE is above its reference RMSE.",
            "{{ $labels.model_name }} {{ $labels.model_version }} has an RMSE of {{ $value | humanize }} on the"
            f" labels of the last 10 minutes, more than {factor}x its RMSE on its reference data.",
            for_="5m",
            explained_by=("service",),
        ),
        Alert(
            "ModelwatchCanaryQualityWorse",
            f"""
            {_in_role(queries.MODEL_VERSION_MODEL_ACCURACY_RATIO1H, "canary")}
            < on (job, model_name) group_left ()
              ({_in_role(queries.MODEL_VERSION_MODEL_ACCURACY_RATIO1H, "stable")} - {margin})
            and on ({BY}) {labels_1h}
            """,
            "warning",
            "The canary version is less accurate than the stable version on live labels.",
            "Canary {{ $labels.model_name }} {{ $labels.model_version }} is right on {{ $value | humanizePercentage }}"
            f" of the last hour's labels, more than {margin} below the stable version. Consider rolling it back:"
            " modelwatch deploy --no-canary.",
            for_="10m",
            explained_by=("service",),
        ),
        Alert(
            "ModelwatchFeedbackStopped",
            f"""
            sum by ({BY}) (increase(model_feedback_total{{{s.service}, outcome="accepted"}}[{cfg.feedback_silence}])) == 0
            and on ({BY}) {queries.MODEL_VERSION_MODEL_LABELS_INCREASE1D} > 0
            and on ({BY}) sum by ({BY}) (rate(model_predictions_total{{{s.service}, outcome="success"}}[5m]))
              >= {number(cfg.min_requests_per_second)}
            """,
            "warning",
            "Labels stopped arriving for a model version that keeps predicting.",
            "No label for {{ $labels.model_name }} {{ $labels.model_version }} in the last"
            f" {cfg.feedback_silence}, though labels arrived within the last day and it still predicts: live"
            " quality is going blind. Check the job that sends labels to POST /api/v1/models/{{ $labels.model_name }}/feedback.",
            for_="30m",
            explained_by=("service",),
        ),
    ]


def groups(s: Selectors) -> list[Group]:
    records = [rule for window in queries.QUALITY_WINDOWS for rule in _records(s, window)]
    coverage = Record(queries.MODEL_VERSION_MODEL_FEEDBACK_COVERAGE1D,
                      f"{queries.MODEL_VERSION_MODEL_LABELS_INCREASE1D} / on ({BY}) (sum by ({BY}) "
                      f'(increase(model_predictions_total{{{s.service}, outcome="success"}}[1d])) > 0)')
    return [Group("modelwatch-quality.records", [*records, coverage], interval="1m"),
            Group("modelwatch-quality.alerts", _alerts(s))]
