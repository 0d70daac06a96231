"""The baselines of every registered model's deployed versions, as series: the
data baseline written when a version is registered (``modelwatch models add``,
``modelwatch train``) and, once recorded, the performance baseline
(``performance-baseline.json`` beside it: latency quantiles, throughput per
replica, CPU per request, memory per replica, error ratio) and the quality the
version showed on its held-out reference rows (metadata.json: accuracy and F1,
or MAE and RMSE), which live quality from labels is compared with.

Labels match the service's ``model_input_feature_bucket_total`` and
``model_predicted_class_total`` exactly, so drift is one PromQL join away::

    # HELP modelwatch_baseline_feature_fraction Share of reference rows in each feature bucket ...
    # TYPE modelwatch_baseline_feature_fraction gauge
    modelwatch_baseline_feature_fraction{bucket="01",feature="pl",feature_slot="3",model_name="iris",model_version="v1"} 0.166667

A baseline file is re-read when it changes. An unreadable or invalid one (or a
missing data baseline) is rejected — logged, counted in
``modelwatch_baseline_load_failures_total{file,reason}`` — and the last good one
keeps being served. No performance baseline yet is normal: its series are
absent, which rules can alert on.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from modelwatch.models.baselines import (PERFORMANCE_BASELINE_FILE, BaselineError, parse_data_baseline,
                                         parse_performance_baseline, parse_reference_quality)
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.series import FEATURE_SLOT, feature_slots
from modelwatch.models.registry import DATA_BASELINE_FILE, METADATA_FILE, Registry

log = logging.getLogger(__name__)
MODEL = ["model_name", "model_version"]
PERFORMANCE_SERIES = (
    ("requests_per_second_per_replica", "Throughput per replica in the known-good run."),
    ("cpu_seconds_per_request", "CPU seconds per request in the known-good run."),
    ("memory_bytes_per_replica", "Resident memory per replica in the known-good run."),
    ("error_ratio", "Share of failed requests in the known-good run."),
)


class BaselineCollector:
    """The baselines of every registered model's deployed versions (or of ``model_names`` only)."""

    def __init__(self, registry_dir: Path, model_names: tuple[str, ...] | None = None):
        self.registry_dir = Path(registry_dir)
        self.model_names = model_names
        self._registries: dict[str, Registry] = {}
        self._loaded: dict[tuple[str, str, str], tuple[tuple, dict]] = {}  # (model, version, file) -> (stamp, last good)
        self._failures: dict[tuple[str, str, str, str], int] = {}  # (model, version, file, reason) -> count

    def _registry(self, model: str) -> Registry:
        if model not in self._registries:
            self._registries[model] = Registry(self.registry_dir, model)
        return self._registries[model]

    def _baseline(self, model: str, version: str, kind: str) -> dict | None:
        """The last good baseline of a kind ("data", "performance" or "quality"), re-read when its file changes."""
        filename, parse = {"data": (DATA_BASELINE_FILE, parse_data_baseline),
                           "performance": (PERFORMANCE_BASELINE_FILE, parse_performance_baseline),
                           "quality": (METADATA_FILE, parse_reference_quality)}[kind]
        path = self._registry(model).version_dir(version) / filename
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            stamp = None
        key = (model, version, kind)
        known = self._loaded.get(key)
        if known is not None and known[0] == stamp:
            return known[1]
        if stamp is None and kind != "data" and known is None:
            return None  # not recorded yet (performance), or no version folder at all (quality): the data says so
        try:
            if stamp is None:
                raise BaselineError("missing", f"{path} does not exist")
            document = parse(path.read_text())
        except (BaselineError, OSError) as exc:
            reason = getattr(exc, "reason", "unreadable")
            self._failures[(*key, reason)] = self._failures.get((*key, reason), 0) + 1
            log.warning("%s baseline of %s %s rejected (%s): %s; serving the last good one", kind, model, version,
                        reason, exc)
            if known is not None:
                self._loaded[key] = (stamp, known[1])  # do not retry an unchanged bad file
                return known[1]
            return None
        self._loaded[key] = (stamp, document)
        return document

    def _deployed(self) -> Iterable[tuple[str, str]]:
        """(model, version) of every deployed version; a model without a readable deployment has none."""
        names = self.model_names if self.model_names is not None else Registry.models(self.registry_dir)
        for model in names:
            try:
                versions = self._registry(model).deployment().versions
            except ModelwatchError as exc:
                if self.model_names is not None:
                    raise  # the one model asked for: its absence is the collector's failure
                log.debug("no deployment of %s: %s", model, exc)
                continue
            for version in versions:
                yield model, version

    def collect(self) -> Iterable:
        families = _Families()
        for model, version in self._deployed():
            recorded = self._baseline(model, version, "performance")
            if recorded is not None:
                families.add_performance(model, version, recorded)
            baseline = self._baseline(model, version, "data")
            if baseline is not None:
                families.add_data(model, version, baseline)
            quality = self._baseline(model, version, "quality")
            if quality:
                families.add_quality(model, version, quality)
        failures = CounterMetricFamily(
            "modelwatch_baseline_load_failures",
            "Rejected baseline files (file: data or performance) by reason (missing, unreadable, invalid); "
            "the last good one keeps being served.",
            labels=[*MODEL, "file", "reason"])
        for (model, version, kind, reason), count in sorted(self._failures.items()):
            failures.add_metric([model, version, kind, reason], count)
        return [*families.all(), failures]


class _Families:
    """The baseline series of one scrape."""

    def __init__(self):
        def gauge(name: str, text: str, *labels: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, text, labels=[*MODEL, *labels])

        self.fraction = gauge("modelwatch_baseline_feature_fraction", "Share of reference rows in each feature bucket "
                              "(numeric buckets, or a categorical feature's top categories, other, unseen, missing).",
                              "feature", FEATURE_SLOT, "bucket")
        self.cumulative = gauge("modelwatch_baseline_feature_cumulative_fraction",
                                "Share of reference rows in this numeric feature bucket and the ones below it "
                                "(for KS distances).", "feature", FEATURE_SLOT, "bucket")
        self.upper = gauge("modelwatch_baseline_feature_bucket_upper_bound",
                           "Upper edge of each numeric feature bucket, in the feature's unit (+Inf for the bucket "
                           "above the reference range).", "feature", FEATURE_SLOT, "bucket")
        self.missing = gauge("modelwatch_baseline_feature_missing_fraction",
                             "Share of reference rows in which the feature is missing.", "feature", FEATURE_SLOT)
        self.classes = gauge("modelwatch_baseline_class_fraction", "Share of reference rows predicted as each class.",
                             "class")
        self.prediction = gauge("modelwatch_baseline_prediction_fraction",
                                "Share of a regressor's reference predictions in each bucket.", "bucket")
        self.prediction_cumulative = gauge("modelwatch_baseline_prediction_cumulative_fraction",
                                           "Share of a regressor's reference predictions in this bucket and the ones "
                                           "below it.", "bucket")
        self.prediction_upper = gauge("modelwatch_baseline_prediction_bucket_upper_bound",
                                      "Upper edge of each prediction bucket (+Inf above the reference range).", "bucket")
        self.rows = gauge("modelwatch_baseline_rows", "Reference rows the data baseline was computed from.")
        self.latency = gauge("modelwatch_baseline_latency_seconds", "Request latency quantiles in the known-good run.",
                             "latency_quantile")  # not "quantile": that label is a summary's own
        self.performance = {field: gauge(f"modelwatch_baseline_{field}", text) for field, text in PERFORMANCE_SERIES}
        self.quality = gauge("modelwatch_baseline_quality", "Quality on the held-out reference rows at registration "
                             "(metric: accuracy, f1_macro, mae or rmse).", "metric")
        self.class_f1 = gauge("modelwatch_baseline_class_f1", "A classifier's F1 per class on the held-out reference "
                              "rows at registration.", "class")
        self.quality_rows = gauge("modelwatch_baseline_quality_rows", "Reference rows with a target the quality was "
                                  "measured on.")

    def add_performance(self, model: str, version: str, recorded: dict) -> None:
        for quantile, seconds in sorted(recorded["latency_seconds"].items()):
            self.latency.add_metric([model, version, quantile], seconds)
        for field, family in self.performance.items():
            family.add_metric([model, version], recorded[field])

    def add_data(self, model: str, version: str, baseline: dict) -> None:
        slots = feature_slots(model, baseline["features"], baseline.get("feature_slot_offset"))
        for feature, spec in baseline["features"].items():
            labels = [model, version, feature, slots[feature]]
            if spec.get("kind") == "categorical":
                for bucket, share in zip(spec["buckets"], spec["reference_fractions"]):
                    self.fraction.add_metric([*labels, bucket], share)
            else:
                _numeric(spec, labels, self.fraction, self.cumulative, self.upper)
            self.missing.add_metric(labels, spec.get("missing_fraction", 0.0))
        for label, share in baseline.get("class_mix", {}).items():
            self.classes.add_metric([model, version, label], share)
        if "prediction" in baseline:
            _numeric(baseline["prediction"], [model, version], self.prediction, self.prediction_cumulative,
                     self.prediction_upper)
        self.rows.add_metric([model, version], baseline["rows"])

    def add_quality(self, model: str, version: str, quality: dict) -> None:
        for metric in ("accuracy", "f1_macro", "mae", "rmse"):
            if metric in quality:
                self.quality.add_metric([model, version, metric], quality[metric])
        for label, score in sorted(quality.get("f1", {}).items()):
            self.class_f1.add_metric([model, version, label], score)
        if "rows" in quality:
            self.quality_rows.add_metric([model, version], quality["rows"])

    def all(self) -> list:
        return [self.fraction, self.cumulative, self.upper, self.missing, self.classes, self.prediction,
                self.prediction_cumulative, self.prediction_upper, self.rows, self.latency, *self.performance.values(),
                self.quality, self.class_f1, self.quality_rows]


def _numeric(spec: dict, labels: list[str], fraction, cumulative, upper) -> None:
    running = 0.0
    for bucket, share, bound in zip(spec["buckets"], spec["reference_fractions"], [*spec["edges"], math.inf]):
        running += share
        fraction.add_metric([*labels, bucket], share)
        cumulative.add_metric([*labels, bucket], min(running, 1.0))
        upper.add_metric([*labels, bucket], bound)
