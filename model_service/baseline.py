"""The data baseline: per-feature bucket edges with reference fractions, and the
reference class mix, written at training time.

Buckets of a feature with edges e0 < e1 < ... < ek are labelled "00" .. f"{k+1:02d}":
"00" holds values below the training range (x < e0), "01" is [e0, e1], bucket i is
(e[i-1], e[i]], and the last holds values above the training range (x > ek). The
service's feature counters and the exporter's baseline series use these labels,
so drift can be computed in PromQL.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np


def bucket_label(index: int) -> str:
    return f"{index:02d}"


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
