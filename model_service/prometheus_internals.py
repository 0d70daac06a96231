"""The two places modelwatch reaches inside prometheus-client, kept here and
nowhere else, because the public API has no way to do either:

- adding a batch of observations to a histogram child at once (``observe`` is one
  value at a time, and a 1,000-row batch would cost 1,000 calls under its lock);
- folding a dead worker's multiprocess files into an archive file (the library
  reads them, but offers nothing to merge them).

``check()`` fails loudly, naming what is missing, when a prometheus-client
release changes these internals (the tests call it, and pyproject pins the
versions it was checked against).
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.mmap_dict import MmapedDict

# The histogram child's attributes used below: the sum, the bucket counters, their upper bounds.
HISTOGRAM_ATTRIBUTES = ("_sum", "_buckets", "_upper_bounds")


def upper_bounds(child) -> list[float]:
    return list(child._upper_bounds)


def add_observations(child, total: float, counts_per_bucket: Iterable[int]) -> None:
    """What ``observe`` does for many values: add their sum, and each bucket's count."""
    child._sum.inc(total)
    for bucket, count in zip(child._buckets, counts_per_bucket):
        if count:
            bucket.inc(count)


def fold_file(dead_file: str, archive_file: str) -> None:
    """Add every value of a dead worker's multiprocess file to the archive file."""
    archive = MmapedDict(archive_file)
    try:
        for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(dead_file):
            archive.write_value(key, archive.read_value(key)[0] + value, timestamp)
    finally:
        archive.close()


def check() -> None:
    """Raise RuntimeError naming each internal this module needs and the installed library lacks."""
    missing = []
    child = Histogram("internals_check_seconds", "-", registry=CollectorRegistry())
    missing += [f"Histogram child.{name}" for name in HISTOGRAM_ATTRIBUTES if not hasattr(child, name)]
    missing += [f"MmapedDict.{name}" for name in ("read_all_values_from_file", "write_value", "read_value", "close")
                if not hasattr(MmapedDict, name)]
    if missing:
        import prometheus_client

        raise RuntimeError(f"prometheus-client {getattr(prometheus_client, '__version__', '?')} lacks what "
                           f"modelwatch.model_service.prometheus_internals uses: {', '.join(missing)}")
