"""The baseline documents of a model version, and their formats.

The data baseline: per-feature bucket edges with reference fractions, and the
reference class mix, written at training time. The performance baseline
(``performance-baseline.json``): what a known-good load run looked like,
recorded by ``modelwatch baseline record``. The exporter publishes both.

Buckets of a feature with edges e0 < e1 < ... < ek are labelled "00" .. f"{k+1:02d}":
"00" holds values below the training range (x < e0), "01" is [e0, e1], bucket i is
(e[i-1], e[i]], and the last holds values above the training range (x > ek). The
service's feature counters and the exporter's baseline series use these labels,
so drift can be computed in PromQL.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Sequence

import jsonschema
import numpy as np

from modelwatch.core.series import bucket_label


def quantile_edges(values: np.ndarray, buckets: int) -> list[float]:
    """Bucket edges at the training data's quantiles (ties merged)."""
    quantiles = np.quantile(values, np.linspace(0.0, 1.0, buckets + 1))
    return sorted({round(float(q), 6) for q in quantiles})


def bucket_indexes(edges: Sequence[float], values: np.ndarray) -> np.ndarray:
    """The bucket of each value (see the module docstring for the labels)."""
    index = np.maximum(np.searchsorted(edges, values, side="left"), 1)
    index[values < edges[0]] = 0
    index[values > edges[-1]] = len(edges)
    return index


def feature_baseline(values: np.ndarray, buckets: int) -> dict:
    edges = quantile_edges(values, buckets)
    counts = np.bincount(bucket_indexes(edges, values), minlength=len(edges) + 1)
    fractions = counts / counts.sum()
    return {
        "edges": edges,
        "buckets": [bucket_label(i) for i in range(len(edges) + 1)],
        "reference_fractions": [round(float(f), 6) for f in fractions],
        "range": [float(values.min()), float(values.max())],
    }


def data_baseline(features: np.ndarray, labels: Sequence[str], feature_names: Sequence[str], buckets: int) -> dict:
    """The data baseline of a training set."""
    mix = Counter(labels)
    total = sum(mix.values())
    return {
        "rows": int(features.shape[0]),
        "features": {
            name: feature_baseline(features[:, i], buckets) for i, name in enumerate(feature_names)
        },
        "class_mix": {label: round(count / total, 6) for label, count in sorted(mix.items())},
    }


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


PERFORMANCE_BASELINE_FILE = "performance-baseline.json"
NON_NEGATIVE = {"type": "number", "minimum": 0}
PERFORMANCE_BASELINE_SCHEMA = {
    "type": "object",
    "required": ["latency_seconds", "requests_per_second_per_replica", "cpu_seconds_per_request",
                 "memory_bytes_per_replica", "error_ratio"],
    "properties": {
        "latency_seconds": {"type": "object", "minProperties": 1, "additionalProperties": NON_NEGATIVE,
                            "propertyNames": {"pattern": "^(0(\\.[0-9]+)?|1)$"}},
        "requests_per_second_per_replica": NON_NEGATIVE,
        "cpu_seconds_per_request": NON_NEGATIVE,
        "memory_bytes_per_replica": NON_NEGATIVE,
        "error_ratio": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
class BaselineError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason  # missing | unreadable | invalid: a bounded label value


def _validated(text: str, schema: dict) -> dict:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise BaselineError("unreadable", f"not JSON: {exc}") from None
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as exc:
        raise BaselineError("invalid", f"{'/'.join(map(str, exc.absolute_path)) or 'document'}: {exc.message}") from None
    return document


def parse_performance_baseline(text: str) -> dict:
    """The performance baseline document, or BaselineError saying what is wrong with it."""
    return _validated(text, PERFORMANCE_BASELINE_SCHEMA)


def parse_data_baseline(text: str) -> dict:
    """The data baseline document, or BaselineError saying what is wrong with it."""
    document = _validated(text, DATA_BASELINE_SCHEMA)
    for name, feature in document["features"].items():
        edges, buckets, fractions = feature["edges"], feature["buckets"], feature["reference_fractions"]
        if buckets != [bucket_label(i) for i in range(len(edges) + 1)] or len(fractions) != len(buckets):
            raise BaselineError("invalid", f"feature {name}: buckets must be 00..{len(edges):02d}, one fraction each")
        if edges != sorted(edges) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-3):
            raise BaselineError("invalid", f"feature {name}: edges must ascend and fractions sum to 1")
    return document
