"""Requests waiting for an answer before bulk work: a worker judging a thousand
labels gives way, between chunks, while other requests of the same worker are
queued or running.

The gunicorn worker counts each request from the moment its connection is
queued for a thread (``arrived``) until it is answered (``done``). Bulk work
(``feedback``) calls ``give_way`` between chunks: it lets the GIL go and waits
while another request is in the worker, at most ``MAX_WAIT_SECONDS`` a chunk,
so a steady stream of predictions slows labels down but never stops them.
Outside gunicorn (the test client) nothing is counted and nobody waits. The
request ledger knows the same, but only with metrics on, and reading it is a
struct per thread slot where this is two counter reads.

Under a flood of 10,000 labels a second this took the predictions' p99 rise
from 1.51–1.67× to 1.35–1.45× (bench/README.md); the rest is the other
worker's share of two cores, which no in-process turn-taking reaches.
"""

from __future__ import annotations

import itertools
import time

MAX_WAIT_SECONDS = 0.005  # a chunk of labels waits at most this long for the predictions in the worker
POLL_SECONDS = 0.0002

_arrived = itertools.count()  # next() on itertools.count is atomic under the GIL: no lock
_done = itertools.count()


def arrived() -> None:
    next(_arrived)


def done() -> None:
    next(_done)


def in_worker() -> int:
    """Requests queued or running in this worker. Reading advances both counters, keeping the difference."""
    return next(_arrived) - next(_done)


def give_way(own: int = 1) -> None:
    """Let the worker's other requests run first; ``own``: the requests of the caller itself."""
    time.sleep(0)
    if in_worker() <= own:
        return
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    while in_worker() > own and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
