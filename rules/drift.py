"""Data drift in PromQL: the live distribution of each feature over the last
hour (the service's bucket counters, summed across replicas) against the
training baseline the exporter publishes for the same model version.

- PSI = sum over buckets of (live - ref) * ln(live / ref), shares floored at
  1e-4 so that an empty bucket costs a bounded amount;
- KS = the largest gap between the live and reference cumulative shares at the
  bucket edges (the live cumulative share is one rule per bucket label);
- JS = the Jensen-Shannon distance of a categorical feature's category shares
  (base 2, 0 to 1), where KS has no order to follow;
- out-of-range = the share of values below or above the training range;
- the predicted class mix gets the same PSI against the training class mix.

Registered models add (the same PSI covers their categorical features, whose
buckets are categories): the share of unseen categories, the rise of each
feature's missing share over the reference's, a regressor's prediction PSI on
its prediction buckets, and the share of a version's features drifting at once.

Windows with fewer than ``alerts.drift_min_rows`` rows give no figure: drift
measured on a handful of requests is noise.

Cost: the raw counters (replicas x versions x features x buckets) are read
over one minute only; the hour is the sum of those per-version rates over time
times the group's interval, which the group sets explicitly so the product is
a count whatever the Prometheus default. Reading every replica's counters over
an hour took twice as long with ten replicas (bench/rules.py). A one-minute
rate needs scrapes at most 30 s apart (the configuration checks it) and counts
a burst of requests within a minute.

Even so, one group over every feature's buckets grows with models x features x
replicas (~370 ms an evaluation at 5 x 30 x 10). The per-bucket and per-feature
records therefore run in ``prometheus.drift_shards`` groups, one per shard of
features: a shard reads the raw series whose ``feature_slot`` (a version's
features take consecutive slots, so they go round the shards evenly) is the
shard modulo the shards, and labels its records with the shard. The
per-version records come after, in groups of their own. Each stage is two
groups: the one-minute rates of the raw counters, every evaluation, and the
hour's figures from them, every ``prometheus.drift_every_evaluations``
evaluations (they move slowly, and their alerts wait 15 minutes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from modelwatch.core import queries
from modelwatch.core.config import AlertsConfig
from modelwatch.core.series import FEATURE_SLOT, FEATURE_SLOTS
from modelwatch.models.baselines import UNSEEN
from modelwatch.rules.builder import Alert, Group, Record, duration
from modelwatch.rules.selectors import PSI_FLOOR, Selectors, number

MODEL = "model_name, model_version"
LIVE = queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_FRACTION1H
ROWS = queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_ROWS_INCREASE1H
CLASS_LIVE = queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_FRACTION1H
CLASS_ROWS = queries.MODEL_VERSION_MODEL_PREDICTED_CLASS_ROWS_INCREASE1H
REFERENCE = queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_REFERENCE_FRACTION


def _psi(live: str, reference: str, on: str) -> str:
    floor = number(PSI_FLOOR)
    a = f"clamp_min({live}, {floor})"
    r = f"clamp_min(max without (instance, job) ({reference}), {floor})"
    # group_left keeps the live side's labels (job); a plain on() would keep only the matched ones.
    return f"""(
              ({a} - on ({on}) group_left {r})
              * ln({a} / on ({on}) group_left {r})
            )"""


SHARD_LABEL = "shard"


def shard_of(slot: int | str, shards: int) -> str:
    """The drift shard (its ``shard`` label) that reads a feature slot's series: the slot modulo the shards."""
    return str(int(slot) % shards)


def shard_slots(shard: int, shards: int) -> list[int]:
    """The feature slots of a drift shard, the inverse of ``shard_of``."""
    return list(range(shard, FEATURE_SLOTS, shards))


def _unsharded(selector: str) -> str:
    """A feature figure without its shard label: an alert's identity (routes, silences, inhibitions)
    stays the same whatever ``prometheus.drift_shards`` is."""
    return f"max without ({SHARD_LABEL}) ({selector})"


def _recorded_shard(shard: int) -> str:
    """The matcher of a shard's records: each carries its shard as a static label."""
    return f'{SHARD_LABEL}="{shard}"'


def _raw_shard(s: Selectors, shard: int) -> str:
    """The matcher of a shard's raw series (the service's bucket counters, the exporter's baselines): the
    feature slots both label them with, so any Prometheus scraping them as they are can run the rules. A
    set of values, which Prometheus looks up value by value; one slot (64 shards): an equality; one shard:
    every series, no matcher."""
    shards = s.config.prometheus.drift_shards
    slots = shard_slots(shard, shards)
    if shards == 1:
        return ""
    if len(slots) == 1:
        return f', {FEATURE_SLOT}="{slots[0]}"'
    return f', {FEATURE_SLOT}=~"{"|".join(map(str, slots))}"'


def groups(s: Selectors) -> list[Group]:
    cfg = s.config.alerts
    interval = s.config.prometheus.evaluation_interval_seconds

    def hour_of(rate_record: str) -> str:
        return f"sum_over_time({rate_record}[1h]) * {number(interval)}"

    alerts = [alert for thresholds, only in model_thresholds(cfg)
              for alert in (*_drift_alerts(thresholds, only), *_registered_model_alerts(thresholds, only))]
    # In each group, in stage order: a record reads those above it as evaluated this round. A figures
    # group reads the rates as last evaluated, and the version figures read the shards' figures as last
    # evaluated, at most a figures interval old (the module docstring says why two intervals).
    # Each shard's records carry their shard as a static label: rules of the same name in several
    # groups must differ in their labels (promtool's lint), and a shard's figures read its own records.
    figures_interval = duration(interval * s.config.prometheus.drift_every_evaluations)

    def sharded(name: str, records: Callable[[int], list[Record]], every: str) -> list[Group]:
        return [Group(name.format(shard=shard), [Record(r.name, r.expr, {**r.labels, SHARD_LABEL: str(shard)})
                                                 for r in records(shard)], interval=every)
                for shard in range(s.config.prometheus.drift_shards)]

    version_rates, version_figures = _version_records(s, hour_of)
    return [
        *sharded("modelwatch-drift-rate-shard-{shard}.rules", lambda shard: [_feature_rate(s, shard)],
                 duration(interval)),
        *sharded("modelwatch-drift-shard-{shard}.rules", lambda shard: _feature_records(s, shard, hour_of),
                 figures_interval),
        Group("modelwatch-drift-rates.rules", version_rates, interval=duration(interval)),
        Group("modelwatch-drift.rules", version_figures, interval=figures_interval),
        Group("modelwatch-drift.alerts", alerts),
    ]


def _feature_rate(s: Selectors, shard: int) -> Record:
    """The one-minute rate of one shard's raw bucket counters (replicas x versions x features x buckets),
    summed across replicas: the only drift record that reads them."""
    return Record(
        queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_RATE1M,
        f"sum by (job, {MODEL}, feature, bucket) "
        f"(rate(model_input_feature_bucket_total{{{s.service}{_raw_shard(s, shard)}}}[1m]))",
    )


def _feature_records(s: Selectors, number_of_shard: int, hour_of) -> list[Record]:
    """Every per-bucket and per-feature figure over the hour, for the features of one shard, from the
    rates ``_feature_rate`` records."""
    cfg = s.config.alerts
    shard = _recorded_shard(number_of_shard)
    feature = f"{MODEL}, feature"
    per_feature = f"job, {feature}"
    live, rows = f"{LIVE}{{{shard}}}", f"{ROWS}{{{shard}}}"
    increase = f"{queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_INCREASE1H}{{{shard}}}"
    enough = f"and on ({per_feature}) {rows} >= {cfg.drift_min_rows}"

    def baseline(name: str) -> str:
        return f"{name}{{{s.exporter}{_raw_shard(s, number_of_shard)}}}"

    hour = [
        Record(queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_INCREASE1H,
               hour_of(f"{queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_RATE1M}{{{shard}}}")),
        Record(ROWS, f"sum without (bucket) ({increase})"),
        Record(LIVE, f"{increase} / ignoring (bucket) group_left {rows}"),
    ]
    labels = s.bucket_labels
    shape = [
        Record(
            queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_CUMULATIVE_FRACTION1H,
            f'sum without (bucket) ({LIVE}{{{shard}, bucket=~"{"|".join(labels[: i + 1])}"}})',
            {"bucket": label},
        )
        for i, label in enumerate(labels)
    ]
    floor = number(PSI_FLOOR)
    reference_share = f"{REFERENCE}{{{shard}}}"
    clamped_live, clamped_reference = f"clamp_min({live}, {floor})", f"clamp_min({reference_share}, {floor})"
    reference = [
        # The reference share of each live bucket, joined once: PSI and JS then match one to one.
        Record(REFERENCE, f"""
            {live} * 0 + on ({feature}, bucket) group_left
            max without (instance, job) ({baseline("modelwatch_baseline_feature_fraction")})
            """),
        Record(
            queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_PSI1H,
            f"""
            sum by ({per_feature}) (({clamped_live} - {clamped_reference}) * ln({clamped_live} / {clamped_reference}))
            {enough}
            """,
        ),
    ]
    shape += [
        Record(
            queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_KS1H,
            f"""
            max by ({per_feature}) (
              abs(
                {queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_CUMULATIVE_FRACTION1H}{{{shard}}}
                - on ({feature}, bucket) group_left
                max without (instance, job) ({baseline("modelwatch_baseline_feature_cumulative_fraction")})
              )
            )
            {enough}
            """,
        ),
        Record(
            queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_OUT_OF_RANGE_RATIO1H,
            f"""
            sum without (bucket) (
              {LIVE}{{{shard}, bucket="{labels[0]}"}}
              or
              {live}
              and on ({feature}, bucket)
              ({baseline("modelwatch_baseline_feature_bucket_upper_bound")} == +Inf)
            )
            {enough}
            """,
        ),
        Record(queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_UNSEEN_RATIO1H,
               f'sum without (bucket) ({LIVE}{{{shard}, bucket="{UNSEEN}"}}) {enough}'),
    ]
    return hour + reference + shape + _js_records(s, number_of_shard, enough)


def model_thresholds(cfg: AlertsConfig) -> list[tuple[AlertsConfig, str]]:
    """(thresholds, series selector) pairs: the configured thresholds for every model without its own
    (``alerts.models``), then each model with its own. With no model of its own: one pair, no selector."""
    names = sorted(cfg.models)
    if not names:
        return [(cfg, "")]
    others = "|".join(re.escape(name).replace("\\", "\\\\") for name in names)  # a PromQL string holds the regex
    return [(cfg, f'{{model_name!~"{others}"}}'), *((cfg.for_model(name), f'{{model_name="{name}"}}') for name in names)]


def over(record: str, cfg: AlertsConfig, setting: str) -> str:
    """``record`` over each model's own ``setting`` (a filter; one comparison when no model has its own)."""
    return " or ".join(f"{record}{only} > {number(getattr(thresholds, setting))}"
                       for thresholds, only in model_thresholds(cfg))


def _drift_alerts(cfg: AlertsConfig, only: str) -> list[Alert]:
    """The feature, class-mix and range alerts of the models ``only`` selects, at ``cfg``'s thresholds."""
    alerts = []
    for severity, psi, ks, js in (
        ("warning", cfg.drift_psi_warning, cfg.drift_ks_warning, cfg.drift_js_warning),
        ("critical", cfg.drift_psi_critical, cfg.drift_ks_critical, cfg.drift_js_critical),
    ):
        alerts += [
            Alert(
                "ModelwatchFeatureDrift",
                f"{_unsharded(f'model_version_feature:model_input_feature:{statistic}1h{only}')} > {number(threshold)}",
                severity,
                "A feature's live distribution has moved away from the training data.",
                "Feature {{ $labels.feature }} of {{ $labels.model_name }} {{ $labels.model_version }} has drifted over"
                f" the last hour: {name} {{{{ $value | printf \"%.3f\" }}}} against the training baseline (threshold"
                f" {number(threshold)}). Predictions on it may be unreliable.",
                for_="15m",
                labels={"statistic": statistic},
                explained_by=("service",),
            )
            for statistic, name, threshold in (("psi", "PSI", psi), ("ks", "KS distance", ks),
                                               ("js", "Jensen-Shannon distance", js))
        ]
        alerts += [
            Alert(
                "ModelwatchPredictionMixShift",
                f"{queries.MODEL_VERSION_MODEL_PREDICTED_CLASS_PSI1H}{only} > {number(psi)}",
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
        f"{_unsharded(queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_OUT_OF_RANGE_RATIO1H + only)}"
        f" > {number(cfg.out_of_range_warning)}",
        "warning",
        "Many inputs fall outside the range seen in training.",
        "{{ $value | humanizePercentage }} of feature {{ $labels.feature }} values sent to {{ $labels.model_name }}"
        " {{ $labels.model_version }} in the last hour were outside the training range: the model extrapolates."
        " Check for a unit change or a broken upstream feature.",
        for_="15m",
        explained_by=("service",),
    ))
    return alerts


def _js_records(s: Selectors, number_of_shard: int, enough: str) -> list[Record]:
    """Jensen-Shannon distance (base 2: 0 alike, 1 disjoint) of each categorical feature's live shares
    against the reference's: the square root of the mean KL divergence of each from their average.
    PromQL evaluates a selector once per mention, and the distance mentions each share four times: the
    categorical buckets are picked out first (numeric features, those with cumulative shares, have KS
    instead), so those mentions read half the buckets."""
    feature = f"{MODEL}, feature"
    shard = _recorded_shard(number_of_shard)
    categorical = queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_CATEGORICAL_FRACTION1H
    categorical_reference = queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_CATEGORICAL_REFERENCE_FRACTION
    live = f"clamp_min({categorical}{{{shard}}}, 1e-12)"
    ref = f"clamp_min({categorical_reference}{{{shard}}}, 1e-12)"
    mean = f"(({live} + {ref}) / 2)"
    return [
        Record(categorical, f"""
            {LIVE}{{{shard}}} unless on ({feature}) max without (instance, job) (
              modelwatch_baseline_feature_cumulative_fraction{{{s.exporter}{_raw_shard(s, number_of_shard)}}})
            """),
        Record(categorical_reference,
               f"{REFERENCE}{{{shard}}} and on (job, {feature}, bucket) {categorical}{{{shard}}}"),
        Record(queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_JS1H, f"""
            sqrt(sum by (job, {feature}) ({live} * ln({live} / {mean}) + {ref} * ln({ref} / {mean}))
                 / {number(2 * math.log(2))})
            {enough}
            """),
    ]


def _version_records(s: Selectors, hour_of) -> tuple[list[Record], list[Record]]:
    """Per model version: the one-minute rates of the raw counters; then, from them, the predicted class
    mix, a regressor's prediction buckets, the missing shares and the share of drifting features, in
    stage order."""
    cfg = s.config.alerts
    version = f"job, {MODEL}"
    predicted_hour = f"sum_over_time({queries.MODEL_VERSION_MODEL_PREDICTIONS_RATE1M}[1h])"
    prediction_rows = queries.MODEL_VERSION_MODEL_PREDICTION_BUCKET_ROWS_INCREASE1H
    psi = queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_PSI1H
    rates = [
        Record(queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_RATE1M,
               f"sum by ({version}, class) (rate(model_predicted_class_total{{{s.service}}}[1m]))"),
        Record(queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_RATE1M,
               f"sum by ({version}, feature) (rate(model_input_feature_missing_total{{{s.service}}}[1m]))"),
        Record(queries.MODEL_VERSION_MODEL_PREDICTIONS_RATE1M,
               f'sum by ({version}) (rate(model_predictions_total{{{s.service}, outcome="success"}}[1m]))'),
        Record(queries.MODEL_VERSION_BUCKET_MODEL_PREDICTION_BUCKET_RATE1M,
               f"sum by ({version}, bucket) (rate(model_prediction_bucket_total{{{s.service}}}[1m]))"),
    ]
    hour = [
        Record(queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_INCREASE1H, hour_of(queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_RATE1M)),
        Record(CLASS_ROWS, f"sum without (class) ({queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_INCREASE1H})"),
        Record(CLASS_LIVE, f"{queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_INCREASE1H} / ignoring (class) group_left {CLASS_ROWS}"),
        Record(queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_RATIO1H, f"""
            sum_over_time({queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_RATE1M}[1h])
            / on ({version}) group_left {predicted_hour}
            and on ({version}) {predicted_hour} * {number(s.config.prometheus.evaluation_interval_seconds)}
              >= {cfg.drift_min_rows}
            """),
        Record(queries.MODEL_VERSION_BUCKET_MODEL_PREDICTION_BUCKET_INCREASE1H,
               hour_of(queries.MODEL_VERSION_BUCKET_MODEL_PREDICTION_BUCKET_RATE1M)),
        Record(prediction_rows, f"sum without (bucket) ({queries.MODEL_VERSION_BUCKET_MODEL_PREDICTION_BUCKET_INCREASE1H})"),
        Record(queries.MODEL_VERSION_BUCKET_MODEL_PREDICTION_BUCKET_FRACTION1H,
               f"{queries.MODEL_VERSION_BUCKET_MODEL_PREDICTION_BUCKET_INCREASE1H} / ignoring (bucket) group_left {prediction_rows}"),
    ]
    reference = [
        Record(
            queries.MODEL_VERSION_MODEL_PREDICTED_CLASS_PSI1H,
            f"""
            sum by ({version}) {_psi(CLASS_LIVE, f'modelwatch_baseline_class_fraction{{{s.exporter}}}', f'{MODEL}, class')}
            and on ({version}) {CLASS_ROWS} >= {cfg.drift_min_rows}
            """,
        ),
        Record(queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_INCREASE_RATIO1H, f"""
            {queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_RATIO1H}
            - on ({MODEL}, feature) group_left
            max without (instance, job) (modelwatch_baseline_feature_missing_fraction{{{s.exporter}}})
            """),
        Record(queries.MODEL_VERSION_MODEL_PREDICTION_BUCKET_PSI1H, f"""
            sum by ({version}) {_psi(queries.MODEL_VERSION_BUCKET_MODEL_PREDICTION_BUCKET_FRACTION1H,
                                     f'modelwatch_baseline_prediction_fraction{{{s.exporter}}}', f'{MODEL}, bucket')}
            and on ({version}) {prediction_rows} >= {cfg.drift_min_rows}
            """),
        Record(queries.MODEL_VERSION_MODEL_INPUT_FEATURE_DRIFTED_RATIO1H, f"""
            (count by ({version}) ({over(psi, cfg, "drift_psi_warning")}) or count by ({version}) ({psi}) * 0)
            / count by ({version}) ({psi})
            """),
    ]
    return rates, hour + reference


def _registered_model_alerts(cfg: AlertsConfig, only: str) -> list[Alert]:
    version = "{{ $labels.model_name }} {{ $labels.model_version }}"
    alerts = [
        Alert(
            "ModelwatchUnseenCategories",
            f"{_unsharded(queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_UNSEEN_RATIO1H + only)}"
            f" > {number(cfg.unseen_share_warning)}",
            "warning",
            "A categorical feature receives categories the reference data never had.",
            "{{ $value | humanizePercentage }} of feature {{ $labels.feature }} values sent to " + version +
            " in the last hour were categories the model never saw: a new upstream value, a renamed category or"
            " a change in encoding.",
            for_="15m",
            explained_by=("service",),
        ),
        Alert(
            "ModelwatchMissingValuesRising",
            f"{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_INCREASE_RATIO1H}{only} > "
            f"{number(cfg.missing_share_increase)}",
            "warning",
            "A feature is missing far more often than in the reference data.",
            "Feature {{ $labels.feature }} of " + version + " was missing in {{ $value | humanizePercentage }} more"
            " of the last hour's rows than in the reference data: an upstream source may have stopped sending it.",
            for_="15m",
            explained_by=("service",),
        ),
        Alert(
            "ModelwatchManyFeaturesDrifting",
            f"{queries.MODEL_VERSION_MODEL_INPUT_FEATURE_DRIFTED_RATIO1H}{only} >= {number(cfg.drift_feature_share)}",
            "critical",
            "Most of a model's features have drifted at once.",
            "{{ $value | humanizePercentage }} of the features of " + version + " drifted over the last hour"
            f" (PSI above {number(cfg.drift_psi_warning)}): the traffic is no longer what the model was built for.",
            for_="15m",
            explained_by=("service",),
        ),
    ]
    for severity, psi in (("warning", cfg.drift_psi_warning), ("critical", cfg.drift_psi_critical)):
        alerts.append(Alert(
            "ModelwatchPredictionDrift",
            f"{queries.MODEL_VERSION_MODEL_PREDICTION_BUCKET_PSI1H}{only} > {number(psi)}",
            severity,
            "A regressor's predictions have moved away from those on the reference data.",
            "The predictions of " + version + " over the last hour have a PSI of {{ $value | printf \"%.3f\" }}"
            f" against its predictions on the reference data (threshold {number(psi)}).",
            for_="15m",
            explained_by=("service",),
        ))
    return alerts
