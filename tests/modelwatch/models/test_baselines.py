"""One value's bucket (plain Python, for requests of a few rows) is the batch function's, everywhere:
below, on and between the edges, and above."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from modelwatch.models.baselines import bucket_indexes, bucket_matrix, bucket_of, padded_edges

EDGES = st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=12).map(sorted)


@given(edges=EDGES, values=st.lists(st.floats(-2e6, 2e6), max_size=20), on_edge=st.booleans())
def test_one_value_lands_where_the_batch_puts_it(edges, values, on_edge):
    values = values + (edges if on_edge else [])  # the edges themselves are the delicate case
    if not values:
        return
    assert [bucket_of(edges, v) for v in values] == bucket_indexes(edges, np.array(values)).tolist()


@given(columns=st.lists(st.tuples(EDGES, st.lists(st.floats(-2e6, 2e6), min_size=3, max_size=3)), min_size=1, max_size=5))
def test_all_columns_at_once_land_where_each_column_puts_them(columns):
    edges = [e for e, _ in columns]
    # each column's values, then its own edges (the delicate case), cut to a common height
    values = np.array([v + e[:1] for e, v in columns], dtype=np.float64).T
    expected = np.column_stack([bucket_indexes(e, values[:, i]) for i, e in enumerate(edges)])
    assert bucket_matrix(padded_edges(edges), values).tolist() == expected.tolist()


def test_a_model_without_numeric_features_buckets_its_batch_into_no_columns():
    assert bucket_matrix(padded_edges([]), np.zeros((20, 0))).shape == (20, 0)


def test_features_with_more_edges_than_a_byte_counts_get_wider_counts():
    edges = [list(np.linspace(0.0, 1.0, 300))]
    values = np.array([[-1.0], [0.0], [0.5], [1.0], [2.0]])
    counts = bucket_matrix(padded_edges(edges), values)
    assert counts.dtype == np.uint16
    assert counts[:, 0].tolist() == bucket_indexes(edges[0], values[:, 0]).tolist() == [0, 1, 150, 299, 300]
