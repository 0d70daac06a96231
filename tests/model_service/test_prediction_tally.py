"""A batch's tally holds exactly what counting its rows one by one gives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelwatch.core.series import CONFIDENCE_BUCKETS
from modelwatch.model_service.prediction_tally import TallyLayout

FEATURE_BUCKETS = [12, 5, 7]  # two numeric features' bucket counts and a categorical one's


def _events(rows: int, seed: int = 0, confidence: bool = True) -> np.ndarray:
    """Random events: outputs of 3 classes, confidences, buckets with missing numbers (-1) and missing
    categories (-(b + 2), b the categorical feature's missing bucket)."""
    rng = np.random.default_rng(seed)
    events = np.empty((rows, 2 + len(FEATURE_BUCKETS)))
    events[:, 0] = rng.integers(0, 3, rows)
    events[:, 1] = rng.uniform(0.3, 1.0, rows) if confidence else np.nan
    for column, buckets in enumerate(FEATURE_BUCKETS, start=2):
        events[:, column] = rng.integers(0, buckets, rows)
    events[rng.random(rows) < 0.2, 2] = -1.0
    events[rng.random(rows) < 0.3, 4] = -(6 + 2)
    return events


def _counted_one_by_one(events: np.ndarray) -> dict:
    bounds = [*CONFIDENCE_BUCKETS, math.inf]
    counts = {"outputs": [0] * 3, "confidence": [0] * len(bounds), "sum": 0.0,
              "features": [([0] * b, 0) for b in FEATURE_BUCKETS]}
    for row in events.tolist():
        counts["outputs"][int(row[0])] += 1
        if not math.isnan(row[1]):
            counts["confidence"][next(i for i, bound in enumerate(bounds) if row[1] <= bound)] += 1
            counts["sum"] += row[1]
        features = []
        for (buckets, missing), index in zip(counts["features"], row[2:]):
            index = int(index)
            if index < 0:
                missing += 1
                if index != -1:
                    buckets[-index - 2] += 1
            else:
                buckets[index] += 1
            features.append((buckets, missing))
        counts["features"] = features
    return counts


@pytest.mark.parametrize("rows, confidence", [(1, True), (17, True), (1000, True), (1000, False)])
def test_a_tally_counts_every_output_confidence_bucket_and_missing_value(rows, confidence):
    layout = TallyLayout(3, CONFIDENCE_BUCKETS, FEATURE_BUCKETS)
    events = _events(rows, seed=rows, confidence=confidence)
    total = layout.tally(events)
    expected = _counted_one_by_one(events)
    assert total.shape == (layout.width,)
    assert total[:3].tolist() == expected["outputs"]
    assert total[layout.confidence_counts].tolist() == expected["confidence"]
    assert total[layout.confidence_sum] == pytest.approx(expected["sum"])
    assert layout.feature_counts(total) == expected["features"]


def test_tallies_add_up_to_the_tally_of_all_their_rows():
    layout = TallyLayout(3, CONFIDENCE_BUCKETS, FEATURE_BUCKETS)
    parts = [_events(rows, seed) for seed, rows in enumerate((1, 40, 999))]
    assert np.allclose(sum(layout.tally(part) for part in parts), layout.tally(np.vstack(parts)))


def test_a_column_ordered_batch_tallies_as_a_row_ordered_one():
    layout = TallyLayout(3, CONFIDENCE_BUCKETS, FEATURE_BUCKETS)
    events = _events(500, seed=3)
    assert layout.tally(np.asfortranarray(events)).tolist() == layout.tally(events).tolist()


def test_no_rows_and_no_features_tally_to_zeros():
    assert not TallyLayout(3, CONFIDENCE_BUCKETS, FEATURE_BUCKETS).tally(np.empty((0, 5))).any()
    featureless = TallyLayout(2, CONFIDENCE_BUCKETS, [])
    total = featureless.tally(np.array([[1.0, 0.97], [1.0, 0.5]]))
    assert total[:2].tolist() == [0, 2] and featureless.feature_counts(total) == []


def test_confidence_buckets_are_inclusive_and_end_at_infinity():
    layout = TallyLayout(1, (0.5, 1.0), [])
    total = layout.tally(np.array([[0, 0.5], [0, 0.500001], [0, 1.0]]))
    assert total[layout.confidence_counts].tolist() == [1, 2, 0]  # "le": 0.5 is in the 0.5 bucket
    assert TallyLayout(1, (0.5, math.inf), []).confidence_bounds.tolist() == [0.5, math.inf]
