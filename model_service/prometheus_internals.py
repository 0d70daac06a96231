"""The three places modelwatch reaches inside prometheus-client, kept here and
nowhere else, because the public API has no way to do any of them:

- adding a batch of observations to a histogram child at once (``observe`` is one
  value at a time, and a 1,000-row batch would cost 1,000 calls under its lock);
- folding a dead worker's multiprocess files into an archive file (the library
  reads them, but offers nothing to merge them);
- allocating a multiprocess file's disk space when it grows
  (``allocate_metric_files``): the library only extends the file, sparse, and
  writes through an mmap, so on a full filesystem the first write to a new page
  kills the process with SIGBUS. Allocated up front, a full filesystem is an
  ``OSError`` (ENOSPC) where the file grows, which callers can survive.

``check()`` fails loudly, naming what is missing, when a prometheus-client
release changes these internals (the tests call it, and pyproject pins the
versions it was checked against).
"""

from __future__ import annotations

import builtins
import os
from typing import Iterable

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import mmap_dict
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


class _AllocatingFile:
    """A metric file whose ``truncate`` (how MmapedDict grows it) allocates the space first."""

    def __init__(self, handle):
        self._handle = handle

    def truncate(self, size: int) -> int:
        os.posix_fallocate(self._handle.fileno(), 0, size)  # ENOSPC here, rather than SIGBUS at a write
        return self._handle.truncate(size)

    def __getattr__(self, name):
        return getattr(self._handle, name)


def _allocating_open(file, mode="r", *args, **kwargs):
    handle = builtins.open(file, mode, *args, **kwargs)
    return handle if "r" in mode and "+" not in mode else _AllocatingFile(handle)


def allocate_metric_files() -> None:
    """Make every multiprocess file of this process allocate its space as it grows (idempotent)."""
    if getattr(MmapedDict, "_modelwatch_allocating", False):
        return
    mmap_dict.open = _allocating_open  # the module's name lookup finds this before the builtin
    grow = MmapedDict._init_value

    def _init_value(self, key):
        capacity, mapped = self._capacity, self._m
        try:
            grow(self, key)
        except OSError:  # the file did not grow: keep the state that matches it, so a later write retries
            self._capacity, self._m = capacity, mapped
            raise

    MmapedDict._init_value = _init_value
    MmapedDict._modelwatch_allocating = True


def check() -> None:
    """Raise RuntimeError naming each internal this module needs and the installed library lacks."""
    missing = []
    child = Histogram("internals_check_seconds", "-", registry=CollectorRegistry())
    missing += [f"Histogram child.{name}" for name in HISTOGRAM_ATTRIBUTES if not hasattr(child, name)]
    missing += [f"MmapedDict.{name}" for name in ("read_all_values_from_file", "write_value", "read_value", "close",
                                                  "_init_value") if not hasattr(MmapedDict, name)]
    if "open" not in MmapedDict.__init__.__code__.co_names:
        missing.append("MmapedDict.__init__ opening its file with open()")
    if missing:
        import prometheus_client

        raise RuntimeError(f"prometheus-client {getattr(prometheus_client, '__version__', '?')} lacks what "
                           f"modelwatch.model_service.prometheus_internals uses: {', '.join(missing)}")
