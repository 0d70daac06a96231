"""The data baselines of the deployed model versions, as series.

Labels match the service's ``model_input_feature_bucket_total`` and
``model_predicted_class_total`` exactly, so drift is one PromQL join away::

    # HELP modelwatch_baseline_feature_fraction Share of training rows in each feature bucket.
    # TYPE modelwatch_baseline_feature_fraction gauge
    modelwatch_baseline_feature_fraction{bucket="01",feature="pl",model_name="iris",model_version="v1"} 0.166667

A baseline file is re-read when it changes. A missing, unreadable or invalid
one is rejected (logged, counted in ``modelwatch_baseline_load_failures_total``)
and the last good one keeps being served.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Iterable

import jsonschema
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from model_service.baseline import bucket_label
from model_service.registry import DATA_BASELINE_FILE, Registry

log = logging.getLogger(__name__)
MODEL = ["model_name", "model_version"]
NUMBER_LIST = {"type": "array", "items": {"type": "number"}}
DATA_BASELINE_SCHEMA = {
    "type": "object",
    "required": ["rows", "features", "class_mix"],
    "properties": {
        "rows": {"type": "integer", "minimum": 1},
        "features": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "required": ["edges", "buckets", "reference_fractions"],
                "properties": {
                    "edges": {**NUMBER_LIST, "minItems": 1},
                    "buckets": {"type": "array", "items": {"type": "string"}},
                    "reference_fractions": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}},
                },
            },
        },
        "class_mix": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}},
    },
}


class BaselineError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason  # missing | unreadable | invalid: a bounded label value


def parse_data_baseline(text: str) -> dict:
    """The baseline document, or BaselineError saying what is wrong with it."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise BaselineError("unreadable", f"not JSON: {exc}") from None
    try:
        jsonschema.validate(document, DATA_BASELINE_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise BaselineError("invalid", f"{'/'.join(map(str, exc.absolute_path)) or 'document'}: {exc.message}") from None
    for name, feature in document["features"].items():
        edges, buckets, fractions = feature["edges"], feature["buckets"], feature["reference_fractions"]
        if buckets != [bucket_label(i) for i in range(len(edges) + 1)] or len(fractions) != len(buckets):
            raise BaselineError("invalid", f"feature {name}: buckets must be 00..{len(edges):02d}, one fraction each")
        if edges != sorted(edges) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-3):
            raise BaselineError("invalid", f"feature {name}: edges must ascend and fractions sum to 1")
    return document


class BaselineCollector:
    def __init__(self, registry_dir: Path, model_name: str):
        self.registry = Registry(registry_dir, model_name)
        self._loaded: dict[str, tuple[tuple, dict]] = {}  # version -> (file stamp, last good document)
        self._failures: dict[tuple[str, str], int] = {}  # (version, reason) -> count

    def _baseline(self, version: str) -> dict | None:
        path = self.registry.version_dir(version) / DATA_BASELINE_FILE
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            stamp = None
        known = self._loaded.get(version)
        if known is not None and known[0] == stamp:
            return known[1]
        try:
            if stamp is None:
                raise BaselineError("missing", f"{path} does not exist")
            document = parse_data_baseline(path.read_text())
        except (BaselineError, OSError) as exc:
            reason = getattr(exc, "reason", "unreadable")
            key = (version, reason)
            self._failures[key] = self._failures.get(key, 0) + 1
            log.warning("baseline of %s %s rejected (%s): %s; serving the last good one", self.registry.model_name,
                        version, reason, exc)
            if known is not None:
                self._loaded[version] = (stamp, known[1])  # do not retry an unchanged bad file every scrape
                return known[1]
            return None
        self._loaded[version] = (stamp, document)
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
        for version in deployment.versions:
            baseline = self._baseline(version)
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
            "Rejected baseline files, by reason (missing, unreadable, invalid); the last good one keeps being served.",
            labels=[*MODEL, "reason"])
        for (version, reason), count in sorted(self._failures.items()):
            failures.add_metric([model, version, reason], count)
        return [fraction, cumulative, upper, classes, rows, failures]
