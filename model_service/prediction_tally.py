"""A model version's prediction events summed into one vector of counts.

Per row, a prediction leaves an event: the output (class index or prediction
bucket), the confidence, and each feature's bucket index (negative: missing; see
``FeatureBuckets.event``). A batch request sums its rows' events into one tally
where it is answered, so a 1,000-row request leaves one vector of a few hundred
numbers for the flusher instead of 1,000 rows (256 bytes each with 30 features)
to copy and count; the flusher tallies the rows single-row requests left the
same way and adds the vectors. The tally holds, in this order: a count per
output, per confidence bucket, the confidence sum, a count per bucket of every
feature, and a missing count per feature.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from modelwatch.model_service.metric_buffer import bucket_counts


class TallyLayout:
    """Where each count sits in a version's tally vector."""

    def __init__(self, outputs: int, confidence_bounds: Sequence[float], feature_buckets: Sequence[int]):
        bounds = list(confidence_bounds)
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)  # as prometheus-client adds +Inf to a histogram's buckets
        self.outputs = outputs
        self.confidence_bounds = np.asarray(bounds, dtype=np.float64)
        self.feature_buckets = tuple(feature_buckets)
        self.bucket_offsets = np.cumsum([0, *self.feature_buckets[:-1]], dtype=np.int64)
        self.confidence_counts = slice(outputs, outputs + len(bounds))
        self.confidence_sum = self.confidence_counts.stop
        self.buckets = slice(self.confidence_sum + 1, self.confidence_sum + 1 + sum(self.feature_buckets))
        self.missing = slice(self.buckets.stop, self.buckets.stop + len(self.feature_buckets))
        self.width = self.missing.stop

    def tally(self, events: np.ndarray) -> np.ndarray:
        """The counts of ``events`` (one row per predicted row: output, confidence, a bucket per feature)."""
        total = np.zeros(self.width)
        if not len(events):
            return total
        total[:self.outputs] = np.bincount(events[:, 0].astype(np.int64), minlength=self.outputs)
        confidences = events[:, 1]
        confidences = confidences[~np.isnan(confidences)]
        total[self.confidence_counts] = bucket_counts(self.confidence_bounds, confidences)
        total[self.confidence_sum] = confidences.sum()
        if self.feature_buckets:
            # -1: a missing number, in no bucket; -(b + 2): a missing category, counted in its bucket b too
            indexes = events[:, 2:].astype(np.intp)
            absent = indexes < 0
            missing = absent.sum(axis=0)
            total[self.missing] = missing
            if missing.any():
                np.negative(indexes, out=indexes, where=absent)
                np.subtract(indexes, 2, out=indexes, where=absent)
                counted = indexes >= 0
                indexes += self.bucket_offsets
                indexes = indexes[counted]
            else:  # the common case: nothing to leave out
                indexes += self.bucket_offsets
            total[self.buckets] = np.bincount(indexes.ravel(order="K"), minlength=self.buckets.stop - self.buckets.start)
        return total

    def feature_counts(self, total: np.ndarray) -> list[tuple[list[int], int]]:
        """Per feature: its bucket counts and its missing count."""
        buckets, missing = total[self.buckets].astype(np.int64), total[self.missing].astype(np.int64).tolist()
        return [(buckets[offset:offset + size].tolist(), missing[i])
                for i, (offset, size) in enumerate(zip(self.bucket_offsets.tolist(), self.feature_buckets))]
