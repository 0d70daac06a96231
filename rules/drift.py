"""Data drift in PromQL: the live distribution of each feature over the last
hour (the service's bucket counters, summed across replicas) against the
training baseline the exporter publishes for the same model version.

- PSI = sum over buckets of (live - ref) * ln(live / ref), shares floored at
  1e-4 so that an empty bucket costs a bounded amount;
- KS = the largest gap between the live and reference cumulative shares at the
  bucket edges (the live cumulative share is one rule per bucket label);
- out-of-range = the share of values below or above the training range;
- the predicted class mix gets the same PSI against the training class mix.

Windows with fewer than ``alerts.drift_min_rows`` rows give no figure: drift
measured on a handful of requests is noise.

Cost: the raw counters (replicas x versions x features x buckets) are read
over one minute only; the hour is the sum of those per-version rates over time
times the group's interval, which the group sets explicitly so the product is
a count whatever the Prometheus default. Reading every replica's counters over
an hour took twice as long with ten replicas (bench/rules.py). A one-minute
rate needs scrapes at most 30 s apart (the configuration checks it) and counts
a burst of requests within a minute.
"""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.rules.builder import Alert, Group, Record, duration
from modelwatch.rules.selectors import PSI_FLOOR, Selectors, number

MODEL = "model_name, model_version"
LIVE = queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_FRACTION1H
ROWS = queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_ROWS_INCREASE1H
CLASS_LIVE = queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_FRACTION1H
CLASS_ROWS = queries.MODEL_VERSION_MODEL_PREDICTED_CLASS_ROWS_INCREASE1H


def _psi(live: str, reference: str, on: str) -> str:
    floor = number(PSI_FLOOR)
    a = f"clamp_min({live}, {floor})"
    r = f"clamp_min(max without (instance, job) ({reference}), {floor})"
    # group_left keeps the live side's labels (job); a plain on() would keep only the matched ones.
    return f"""(
              ({a} - on ({on}) group_left {r})
              * ln({a} / on ({on}) group_left {r})
            )"""


def groups(s: Selectors) -> list[Group]:
    cfg = s.config.alerts
    feature = f"{MODEL}, feature"
    per_feature = f"job, {feature}"
    enough = f"and on ({per_feature}) {ROWS} >= {cfg.drift_min_rows}"
    interval = s.config.prometheus.evaluation_interval_seconds

    def hour_of(rate_record: str) -> str:
        return f"sum_over_time({rate_record}[1h]) * {number(interval)}"

    records = [
        Record(
            queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_RATE1M,
            f"sum by (job, {feature}, bucket) (rate(model_input_feature_bucket_total{{{s.service}}}[1m]))",
        ),
        Record(
            queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_INCREASE1H,
            hour_of(queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_RATE1M),
        ),
        Record(ROWS, f"sum without (bucket) ({queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_INCREASE1H})"),
        Record(LIVE, f"{queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_INCREASE1H} / ignoring (bucket) group_left {ROWS}"),
    ]
    labels = s.bucket_labels
    records += [
        Record(
            queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_CUMULATIVE_FRACTION1H,
            f'sum without (bucket) ({LIVE}{{bucket=~"{"|".join(labels[: i + 1])}"}})',
            {"bucket": label},
        )
        for i, label in enumerate(labels)
    ]
    records += [
        Record(
            queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_PSI1H,
            f"""
            sum by ({per_feature}) {_psi(LIVE, f'modelwatch_baseline_feature_fraction{{{s.exporter}}}', f'{feature}, bucket')}
            {enough}
            """,
        ),
        Record(
            queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_KS1H,
            f"""
            max by ({per_feature}) (
              abs(
                {queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_CUMULATIVE_FRACTION1H}
                - on ({feature}, bucket) group_left
                max without (instance, job) (modelwatch_baseline_feature_cumulative_fraction{{{s.exporter}}})
              )
            )
            {enough}
            """,
        ),
        Record(
            queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_OUT_OF_RANGE_RATIO1H,
            f"""
            sum without (bucket) (
              {LIVE}{{bucket="{labels[0]}"}}
              or
              {LIVE}
              and on ({feature}, bucket)
              (modelwatch_baseline_feature_bucket_upper_bound{{{s.exporter}}} == +Inf)
            )
            {enough}
            """,
        ),
        Record(
            queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_RATE1M,
            f"sum by (job, {MODEL}, class) (rate(model_predicted_class_total{{{s.service}}}[1m]))",
        ),
        Record(queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_INCREASE1H, hour_of(queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_RATE1M)),
        Record(CLASS_ROWS, f"sum without (class) ({queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_INCREASE1H})"),
        Record(CLASS_LIVE, f"{queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_INCREASE1H} / ignoring (class) group_left {CLASS_ROWS}"),
        Record(
            queries.MODEL_VERSION_MODEL_PREDICTED_CLASS_PSI1H,
            f"""
            sum by (job, {MODEL}) {_psi(CLASS_LIVE, f'modelwatch_baseline_class_fraction{{{s.exporter}}}', f'{MODEL}, class')}
            and on (job, {MODEL}) {CLASS_ROWS} >= {cfg.drift_min_rows}
            """,
        ),
    ]
    alerts = []
    for severity, psi, ks in (
        ("warning", cfg.drift_psi_warning, cfg.drift_ks_warning),
        ("critical", cfg.drift_psi_critical, cfg.drift_ks_critical),
    ):
        alerts += [
            Alert(
                "ModelwatchFeatureDrift",
                f"model_version_feature:model_input_feature:{statistic}1h > {number(threshold)}",
                severity,
                "A feature's live distribution has moved away from the training data.",
                "Feature {{ $labels.feature }} of {{ $labels.model_name }} {{ $labels.model_version }} has drifted over"
                f" the last hour: {name} {{{{ $value | printf \"%.3f\" }}}} against the training baseline (threshold"
                f" {number(threshold)}). Predictions on it may be unreliable.",
                for_="15m",
                labels={"statistic": statistic},
                explained_by=("service",),
            )
            for statistic, name, threshold in (("psi", "PSI", psi), ("ks", "KS distance", ks))
        ]
        alerts += [
            Alert(
                "ModelwatchPredictionMixShift",
                f"{queries.MODEL_VERSION_MODEL_PREDICTED_CLASS_PSI1H} > {number(psi)}",
                severity,
                "The predicted class mix has moved away from the training mix.",
                "The predicted class mix of {{ $labels.model_name }} {{ $labels.model_version }} over the last hour"
                f" has a PSI of {{{{ $value | printf \"%.3f\" }}}} against the training mix (threshold {number(psi)}).",
                for_="15m",
                explained_by=("service",),
            ),
        ]
    alerts.append(Alert(
        "ModelwatchInputsOutOfRange",
        f"{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_OUT_OF_RANGE_RATIO1H} > {number(cfg.out_of_range_warning)}",
        "warning",
        "Many inputs fall outside the range seen in training.",
        "{{ $value | humanizePercentage }} of feature {{ $labels.feature }} values sent to {{ $labels.model_name }}"
        " {{ $labels.model_version }} in the last hour were outside the training range: the model extrapolates."
        " Check for a unit change or a broken upstream feature.",
        for_="15m",
        explained_by=("service",),
    ))
    return [
        Group("modelwatch-drift.rules", records, interval=duration(interval)),
        Group("modelwatch-drift.alerts", alerts),
    ]
