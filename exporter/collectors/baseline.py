"""The baselines of the deployed model versions, as series: the data baseline
written by ``modelwatch train`` and, once recorded, the performance baseline
(``performance-baseline.json`` beside it: latency quantiles, throughput per
replica, CPU per request, memory per replica, error ratio).

Labels match the service's ``model_input_feature_bucket_total`` and
``model_predicted_class_total`` exactly, so drift is one PromQL join away::

    # HELP modelwatch_baseline_feature_fraction Share of training rows in each feature bucket.
    # TYPE modelwatch_baseline_feature_fraction gauge
    modelwatch_baseline_feature_fraction{bucket="01",feature="pl",model_name="iris",model_version="v1"} 0.166667

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
                                         parse_performance_baseline)
from modelwatch.models.registry import DATA_BASELINE_FILE, Registry

log = logging.getLogger(__name__)
MODEL = ["model_name", "model_version"]
PERFORMANCE_SERIES = (
    ("requests_per_second_per_replica", "Throughput per replica in the known-good run."),
    ("cpu_seconds_per_request", "CPU seconds per request in the known-good run."),
    ("memory_bytes_per_replica", "Resident memory per replica in the known-good run."),
    ("error_ratio", "Share of failed requests in the known-good run."),
)



class BaselineCollector:
    def __init__(self, registry_dir: Path, model_name: str):
        self.registry = Registry(registry_dir, model_name)
        self._loaded: dict[tuple[str, str], tuple[tuple, dict]] = {}  # (version, file) -> (stamp, last good)
        self._failures: dict[tuple[str, str, str], int] = {}  # (version, file, reason) -> count

    def _baseline(self, version: str, kind: str) -> dict | None:
        """The last good baseline of a kind ("data" or "performance"), re-read when its file changes."""
        filename, parse = {"data": (DATA_BASELINE_FILE, parse_data_baseline),
                           "performance": (PERFORMANCE_BASELINE_FILE, parse_performance_baseline)}[kind]
        path = self.registry.version_dir(version) / filename
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            stamp = None
        known = self._loaded.get((version, kind))
        if known is not None and known[0] == stamp:
            return known[1]
        if stamp is None and kind == "performance" and known is None:
            return None  # not recorded yet: normal
        try:
            if stamp is None:
                raise BaselineError("missing", f"{path} does not exist")
            document = parse(path.read_text())
        except (BaselineError, OSError) as exc:
            reason = getattr(exc, "reason", "unreadable")
            key = (version, kind, reason)
            self._failures[key] = self._failures.get(key, 0) + 1
            log.warning("%s baseline of %s %s rejected (%s): %s; serving the last good one", kind,
                        self.registry.model_name, version, reason, exc)
            if known is not None:
                self._loaded[(version, kind)] = (stamp, known[1])  # do not retry an unchanged bad file
                return known[1]
            return None
        self._loaded[(version, kind)] = (stamp, document)
        return document

    def collect(self) -> Iterable:
        model = self.registry.model_name
        deployment = self.registry.deployment()
        fraction = GaugeMetricFamily(
            "modelwatch_baseline_feature_fraction", "Share of training rows in each feature bucket.",
            labels=[*MODEL, "feature", "bucket"])
        cumulative = GaugeMetricFamily(
            "modelwatch_baseline_feature_cumulative_fraction",
            "Share of training rows in this feature bucket and the ones below it (for KS distances).",
            labels=[*MODEL, "feature", "bucket"])
        upper = GaugeMetricFamily(
            "modelwatch_baseline_feature_bucket_upper_bound",
            "Upper edge of each feature bucket, in the feature's unit (+Inf for the bucket above the training range).",
            labels=[*MODEL, "feature", "bucket"])
        classes = GaugeMetricFamily(
            "modelwatch_baseline_class_fraction", "Share of training rows of each class.", labels=[*MODEL, "class"])
        rows = GaugeMetricFamily("modelwatch_baseline_rows", "Training rows the data baseline was computed from.",
                                 labels=MODEL)
        latency = GaugeMetricFamily(
            "modelwatch_baseline_latency_seconds", "Request latency quantiles in the known-good run.",
            labels=[*MODEL, "latency_quantile"])  # not "quantile": that label is a summary's own
        performance = {field: GaugeMetricFamily(f"modelwatch_baseline_{field}", text, labels=MODEL)
                       for field, text in PERFORMANCE_SERIES}
        for version in deployment.versions:
            recorded = self._baseline(version, "performance")
            if recorded is not None:
                for quantile, seconds in sorted(recorded["latency_seconds"].items()):
                    latency.add_metric([model, version, quantile], seconds)
                for field, family in performance.items():
                    family.add_metric([model, version], recorded[field])
            baseline = self._baseline(version, "data")
            if baseline is None:
                continue
            for feature, spec in baseline["features"].items():
                running = 0.0
                bounds = [*spec["edges"], math.inf]
                for bucket, share, bound in zip(spec["buckets"], spec["reference_fractions"], bounds):
                    running += share
                    labels = [model, version, feature, bucket]
                    fraction.add_metric(labels, share)
                    cumulative.add_metric(labels, min(running, 1.0))
                    upper.add_metric(labels, bound)
            for label, share in baseline["class_mix"].items():
                classes.add_metric([model, version, label], share)
            rows.add_metric([model, version], baseline["rows"])
        failures = CounterMetricFamily(
            "modelwatch_baseline_load_failures",
            "Rejected baseline files (file: data or performance) by reason (missing, unreadable, invalid); "
            "the last good one keeps being served.",
            labels=[*MODEL, "file", "reason"])
        for (version, kind, reason), count in sorted(self._failures.items()):
            failures.add_metric([model, version, kind, reason], count)
        return [fraction, cumulative, upper, classes, rows, latency, *performance.values(), failures]
