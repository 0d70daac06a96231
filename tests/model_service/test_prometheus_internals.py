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


GROW_ON_A_FULL_FILESYSTEM = """
import os, sys
from prometheus_client.mmap_dict import MmapedDict
from modelwatch.model_service.prometheus_internals import allocate_metric_files
allocate_metric_files()
folder = sys.argv[1]
grown = MmapedDict(os.path.join(folder, "grown.db"))
with open(os.path.join(folder, "filler"), "wb") as filler:  # fill the filesystem to the last byte
    try:
        while True:
            filler.write(b"\\0" * 65536)
            filler.flush()
    except OSError:
        pass
failures = []
for name in ("new.db", None):
    try:
        if name:
            MmapedDict(os.path.join(folder, name))
        else:
            for i in range(5000):  # more keys than the first 64 KiB hold: the file must grow
                grown.write_value(f"key-{i}", float(i), 0.0)
    except OSError as exc:
        failures.append(exc.errno)
os.unlink(os.path.join(folder, "filler"))
for i in range(5000):  # with room again, the same dict grows and keeps every value
    grown.write_value(f"key-{i}", float(i), 0.0)
assert grown.read_value("key-4999") == (4999.0, 0.0)
print(failures)
"""


def test_on_a_full_filesystem_a_metric_file_fails_to_grow_with_enospc_not_sigbus_and_grows_later(tmp_path):
    import os
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "small"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], check=True)
    try:
        result = subprocess.run([sys.executable, "-c", GROW_ON_A_FULL_FILESYSTEM, str(folder)], capture_output=True,
                                text=True, timeout=120)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
    assert result.returncode == 0, f"exit {result.returncode} (SIGBUS is -7): {result.stderr[-2000:]}"
    assert result.stdout.strip() == "[28, 28]"  # ENOSPC for a new file and for growing one
