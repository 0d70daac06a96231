"""Write-behind recording of hot-path metrics.

In multiprocess mode every prometheus-client update takes a process-wide lock
and writes to an mmap'd file (about 1.5 µs), and a prediction request makes
seventeen of them. Here a request only appends its numbers to ``EventColumns``
(an ``array.array`` of doubles: one ``extend`` is one C call, so atomic under
the GIL without a lock, and it creates no objects the garbage collector must
track — queued tuples would make every collection slower) and bumps
``itertools.count`` objects for the in-flight gauge. ``flush`` drains the
columns and applies the aggregates with numpy, one write per touched series:
every ``interval`` seconds (``service.metrics_flush_seconds``) on a background thread, before this worker answers
a scrape, and when the worker exits. A scrape can miss at most the last interval of the *other*
workers; a worker killed with SIGKILL loses at most one interval.

Histogram aggregates are applied through ``prometheus_internals`` (the child's sum and buckets)
values, exactly as ``Histogram.observe`` does;
tests/model_service/test_metric_buffer.py proves the exposition is identical.
"""

from __future__ import annotations

import atexit
import logging
import itertools
import os
import threading
import weakref
from array import array
from typing import Callable, Iterable

import numpy as np

from modelwatch.model_service.prometheus_internals import add_observations, upper_bounds

log = logging.getLogger(__name__)
_flushables: "weakref.WeakSet" = weakref.WeakSet()


class EventColumns:
    """Fixed-width rows of floats appended by request threads, drained by the flusher."""

    def __init__(self, width: int):
        self.width = width
        self._data = array("d")
        self.extend = self._data.extend  # extend((a, b, ...)): one atomic C call

    def extend_rows(self, rows: np.ndarray) -> None:
        """Append a block of rows (n x width) as its bytes: one atomic C call, no float objects."""
        self._data.frombytes(memoryview(np.ascontiguousarray(rows, dtype=np.float64)).cast("B"))  # no bytes copy

    def drain(self) -> np.ndarray:
        data = self._data
        count = len(data)  # a multiple of width: every extend added a whole row at once
        rows = np.frombuffer(data[:count], dtype=np.float64).reshape(-1, self.width)
        del data[:count]  # appends made meanwhile stay, after the drained part
        return rows


class LabelIds:
    """Small integer ids for label tuples, so events can be stored as floats."""

    def __init__(self):
        self._ids: dict[tuple, int] = {}
        self.labels: dict[int, tuple] = {}
        self._next = itertools.count()

    def id_of(self, labels: tuple) -> int:
        found = self._ids.get(labels)
        if found is None:
            found = self._ids.setdefault(labels, next(self._next))
            self.labels[found] = labels
        return found


def grouped(rows: np.ndarray) -> Iterable[tuple[int, np.ndarray]]:
    """(id, rows) per distinct value of the first column."""
    ids = rows[:, 0].astype(np.int64)
    for value in np.unique(ids).tolist():
        yield value, rows[ids == value]


def bucket_counts(upper_bounds: Iterable[float], values: np.ndarray) -> np.ndarray:
    """Observations per histogram bucket ("le" is inclusive, as in Histogram.observe)."""
    bounds = np.asarray(list(upper_bounds), dtype=np.float64)
    return np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))


def apply_histogram(child, values: np.ndarray) -> None:
    """Add many observations to a histogram child: what observe() does once per value."""
    if len(values) == 0:
        return
    add_observations(child, float(values.sum()), bucket_counts(upper_bounds(child), values).tolist())


class Flusher:
    """Calls ``flush`` every ``interval`` seconds in this process (after a fork, anew)."""

    def __init__(self, flush: Callable[[], None], interval: float):
        self.flush = flush
        self._interval = interval
        self._pid = None
        _flushables.add(self)

    def start(self) -> None:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            threading.Thread(target=self._loop, name="metric-flush", daemon=True).start()

    def _loop(self) -> None:
        stop, failing = threading.Event(), None
        while not stop.wait(self._interval):
            try:
                self.flush()
            except Exception as exc:  # e.g. a full metrics filesystem: keep flushing, it may come back
                if repr(exc) != failing:
                    log.error("writing metrics failed (%s); the counts of this interval are lost, retrying", exc)
                failing = repr(exc)
            else:
                if failing is not None:
                    log.info("writing metrics works again")
                failing = None


def flush_all() -> None:
    """Flush every recorder of this process (gunicorn's worker_exit, interpreter exit)."""
    for flusher in list(_flushables):
        flusher.flush()


atexit.register(flush_all)
