"""The baseline documents of a model version, and their formats.

The data baseline: per feature, the reference distribution — numeric features
on quantile buckets, categorical ones on their most frequent categories — and
its share of missing values; the reference class mix of a classifier, or the
distribution of a regressor's predictions; written when a version is
registered. The performance baseline
(``performance-baseline.json``): what a known-good load run looked like,
recorded by ``modelwatch baseline record``. The exporter publishes both.

Buckets of a feature with edges e0 < e1 < ... < ek are labelled "00" .. f"{k+1:02d}":
"00" holds values below the training range (x < e0), "01" is [e0, e1], bucket i is
(e[i-1], e[i]], and the last holds values above the training range (x > ek). The
service's feature counters and the exporter's baseline series use these labels,
so drift can be computed in PromQL.

A categorical feature's buckets are its ``top_k`` most frequent reference
categories, then OTHER (known categories outside those), UNSEEN (values the
reference never had) and MISSING: a bounded set of label values whatever
clients send.
"""

from __future__ import annotations

import bisect

import json
import math
from collections import Counter
from typing import Sequence

import jsonschema
import numpy as np

from modelwatch.core.series import FEATURE_SLOTS, bucket_label


def quantile_edges(values: np.ndarray, buckets: int) -> list[float]:
    """Bucket edges at the reference data's quantiles (ties merged). Not rounded: a maximum
    rounded down would put the reference's own largest values above its range."""
    quantiles = np.quantile(values, np.linspace(0.0, 1.0, buckets + 1))
    return sorted({float(q) for q in quantiles})


def bucket_indexes(edges: Sequence[float], values: np.ndarray) -> np.ndarray:
    """The bucket of each value (see the module docstring for the labels)."""
    index = np.maximum(np.searchsorted(edges, values, side="left"), 1)
    index[values < edges[0]] = 0
    index[values > edges[-1]] = len(edges)
    return index


def padded_edges(edges: Sequence[Sequence[float]]) -> np.ndarray:
    """Several features' edges as one array for ``bucket_matrix``, shorter lists padded with +inf
    (no value is above it, so padding never counts)."""
    width = max((len(e) for e in edges), default=0)
    return np.array([list(e) + [math.inf] * (width - len(e)) for e in edges], dtype=np.float64).reshape(len(edges), width)


def bucket_matrix(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``bucket_indexes`` of every column of ``values`` (rows x features) against its row of ``edges``
    (``padded_edges``) in one pass: a value's bucket is the number of edges below it, and the first
    edge itself belongs to bucket 1. NaN compares false everywhere: bucket 0 (callers mark it missing).
    The counts are the narrowest unsigned integers that hold them (uint8 for up to 254 edges)."""
    width = edges.shape[1]
    # Feature by feature, each column's values side by side in memory (a pandas frame's block already
    # is): a comparison then runs over 1,000 values at once, not over the 30 of a row. Twice as fast.
    columns = values.T if values.T.flags.c_contiguous else np.ascontiguousarray(values.T)
    counts = np.zeros(columns.shape, dtype=np.min_scalar_type(width + 1))
    above = np.empty(columns.shape, dtype=bool)  # reused: a pass allocates nothing
    for k in range(width):  # a pass per edge position: a few wide comparisons, not one per value
        np.greater(columns, edges[:, k, None], out=above)
        counts += above.view(np.uint8)
    if width:  # no numeric feature at all: no edges, no columns
        np.equal(columns, edges[:, 0, None], out=above)
        counts += above.view(np.uint8)
    return counts.T


def bucket_of(edges: Sequence[float], value: float) -> int:
    """``bucket_indexes`` for one value, without numpy's per-call cost (a request of a few rows)."""
    if value < edges[0]:
        return 0
    if value > edges[-1]:
        return len(edges)
    return max(bisect.bisect_left(edges, value), 1)


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


OTHER, UNSEEN, MISSING = "(other)", "(unseen)", "(missing)"


def numeric_baseline(values: np.ndarray, buckets: int) -> dict:
    """A numeric feature's buckets over its present values, and its missing share (NaN is missing)."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    if present.size == 0:
        raise ValueError("no value present")
    return {"kind": "numeric", **feature_baseline(present, buckets),
            "missing_fraction": round(float(1 - present.size / values.size), 6)}


def categorical_baseline(values: Sequence[str | None], top_k: int) -> dict:
    """A categorical feature's most frequent categories with their shares, the rest as OTHER;
    UNSEEN has no reference share; anything but a string (None, NaN) is missing."""
    present = [v for v in values if isinstance(v, str)]
    counts = Counter(present)
    top = sorted(counts, key=lambda c: (-counts[c], c))[:top_k]
    total = len(values)
    shares = [counts[c] / total for c in top]
    other = (len(present) - sum(counts[c] for c in top)) / total
    missing = (total - len(present)) / total
    return {
        "kind": "categorical",
        "categories": sorted(counts),
        "buckets": [*top, OTHER, UNSEEN, MISSING],
        "reference_fractions": [round(s, 6) for s in (*shares, other, 0.0, missing)],
        "missing_fraction": round(missing, 6),
    }


def class_mix(labels: Sequence[str]) -> dict[str, float]:
    mix = Counter(labels)
    total = sum(mix.values())
    return {label: round(count / total, 6) for label, count in sorted(mix.items())}


NUMBER_LIST = {"type": "array", "items": {"type": "number"}}
FRACTION = {"type": "number", "minimum": 0, "maximum": 1}
NUMERIC_BUCKETS = {
    "type": "object",
    "required": ["edges", "buckets", "reference_fractions"],
    "properties": {
        "kind": {"const": "numeric"},
        "edges": {**NUMBER_LIST, "minItems": 1},
        "buckets": {"type": "array", "items": {"type": "string"}},
        "reference_fractions": {"type": "array", "items": FRACTION},
        "missing_fraction": FRACTION,
    },
}
CATEGORICAL_BUCKETS = {
    "type": "object",
    "required": ["kind", "categories", "buckets", "reference_fractions"],
    "properties": {
        "kind": {"const": "categorical"},
        "categories": {"type": "array", "items": {"type": "string"}},
        "buckets": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 3},
        "reference_fractions": {"type": "array", "items": FRACTION},
        "missing_fraction": FRACTION,
    },
}
DATA_BASELINE_SCHEMA = {
    "type": "object",
    "required": ["rows", "features"],
    "properties": {
        "rows": {"type": "integer", "minimum": 1},
        "features": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"oneOf": [NUMERIC_BUCKETS, CATEGORICAL_BUCKETS]},
        },
        "class_mix": {"type": "object", "additionalProperties": FRACTION},
        "prediction": NUMERIC_BUCKETS,  # a regressor's outputs on the reference
        # Where the features' slots start (series.feature_slots); absent from versions registered before it.
        "feature_slot_offset": {"type": "integer", "minimum": 0, "maximum": FEATURE_SLOTS - 1},
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


# The quality a version showed on its held-out reference rows at registration (metadata.json's "quality").
RATIO = {"type": "number", "minimum": 0, "maximum": 1}
QUALITY_SCHEMA = {
    "type": "object",
    "properties": {
        "quality": {
            "type": "object",
            "properties": {
                "reference": {
                    "type": "object",
                    "properties": {
                        "accuracy": RATIO, "f1_macro": RATIO, "f1": {"type": "object", "additionalProperties": RATIO},
                        "mae": NON_NEGATIVE, "rmse": NON_NEGATIVE, "rows": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
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


def parse_reference_quality(text: str) -> dict:
    """A version's reference quality from its metadata ({} when registered without a target)."""
    return (_validated(text, QUALITY_SCHEMA).get("quality") or {}).get("reference") or {}


def parse_performance_baseline(text: str) -> dict:
    """The performance baseline document, or BaselineError saying what is wrong with it."""
    return _validated(text, PERFORMANCE_BASELINE_SCHEMA)


def _check_buckets(name: str, spec: dict) -> None:
    buckets, fractions = spec["buckets"], spec["reference_fractions"]
    if spec.get("kind") == "categorical":
        if buckets[-3:] != [OTHER, UNSEEN, MISSING]:
            raise BaselineError("invalid", f"{name}: a categorical feature's buckets end with {OTHER}, {UNSEEN}, {MISSING}")
    else:
        edges = spec["edges"]
        if buckets != [bucket_label(i) for i in range(len(edges) + 1)]:
            raise BaselineError("invalid", f"{name}: buckets must be 00..{len(edges):02d}, one fraction each")
        if edges != sorted(edges):
            raise BaselineError("invalid", f"{name}: edges must ascend")
    if len(fractions) != len(buckets) or len(set(buckets)) != len(buckets):
        raise BaselineError("invalid", f"{name}: one fraction per bucket, each bucket once")
    # Numeric shares are of the present values, categorical ones of all (missing is a bucket).
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-3):
        raise BaselineError("invalid", f"{name}: fractions must sum to 1")


def parse_data_baseline(text: str) -> dict:
    """The data baseline document, or BaselineError saying what is wrong with it."""
    document = _validated(text, DATA_BASELINE_SCHEMA)
    if ("class_mix" in document) == ("prediction" in document):
        raise BaselineError("invalid", "document: needs class_mix (a classifier's) or prediction (a regressor's), "
                                       "one of the two")
    for name, feature in document["features"].items():
        _check_buckets(f"feature {name}", feature)
    if "prediction" in document:
        _check_buckets("prediction", document["prediction"])
    return document
