"""The prometheus-client internals modelwatch uses are there, and behave as
the public API does; a release that changes them fails here by name."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.multiprocess import MultiProcessCollector

from modelwatch.model_service import prometheus_internals
from modelwatch.model_service.prometheus_internals import add_observations, check, fold_file, upper_bounds


def test_the_installed_prometheus_client_has_what_is_used():
    check()


def test_a_missing_internal_is_named(monkeypatch):
    monkeypatch.setattr(prometheus_internals, "HISTOGRAM_ATTRIBUTES", ("_sum", "_gone"))
    with pytest.raises(RuntimeError, match=r"lacks what .* uses: Histogram child\._gone"):
        check()


def test_adding_observations_at_once_equals_observing_each():
    rng = np.random.default_rng(1)
    observed = rng.exponential(0.05, 500)
    one, many = CollectorRegistry(), CollectorRegistry()
    each = Histogram("t_seconds", "t", registry=one)
    batch = Histogram("t_seconds", "t", registry=many)
    for value in observed:
        each.observe(value)
    bounds = np.asarray(upper_bounds(batch))
    add_observations(batch, float(observed.sum()),
                     np.bincount(np.searchsorted(bounds, observed, side="left"), minlength=len(bounds)).tolist())
    for name in ("t_seconds_count", "t_seconds_sum"):
        assert one.get_sample_value(name) == pytest.approx(many.get_sample_value(name))
    for le in ("0.005", "0.1", "+Inf"):
        assert one.get_sample_value("t_seconds_bucket", {"le": le}) == many.get_sample_value("t_seconds_bucket", {"le": le})


def test_folding_a_dead_workers_file_keeps_its_counts(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda: 4242))
    counter = Counter("folded", "f", registry=None)
    counter.inc(7)
    fold_file(str(tmp_path / "counter_4242.db"), str(tmp_path / "counter_archive.db"))
    fold_file(str(tmp_path / "counter_4242.db"), str(tmp_path / "counter_archive.db"))  # twice: 14
    (tmp_path / "counter_4242.db").unlink()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    assert registry.get_sample_value("folded_total") == 14
