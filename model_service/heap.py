"""Keep the cyclic garbage collector off the models' objects in serving workers.

A worker that has just loaded its models holds hundreds of thousands of
long-lived objects (scikit-learn, pandas, numpy, the models themselves).
CPython's oldest-generation collection walks all of them: 100–400 ms here,
with the GIL held, so every request on that worker waits, and the first
minute after a start or a deploy had p99s six times bare Flask's
(bench/README.md, *Tail latency*). After each load the worker collects once
and freezes what is left (``gc.freeze``): later collections skip it.

Each switch unfreezes first, so the versions it unloads can still be
collected; their one full collection happens then, once per deploy.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)

enabled = False  # set by the gunicorn worker from service.freeze_heap; tests and tools leave it off


def settle() -> None:
    """Collect everything once, then exempt the survivors from later collections."""
    if not enabled:
        return
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.info("heap settled: %d objects frozen in %.0f ms", gc.get_freeze_count(), (time.perf_counter() - started) * 1e3)
