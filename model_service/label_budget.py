"""How many labels a worker takes a second (``feedback.max_labels_per_second``).

Predictions come first: a labelling job that sends its backlog as fast as it
can would otherwise take the CPU the predictions' tail needs (bench/README,
*a feedback flood*). The budget refills continuously up to one second's worth;
a request is taken whole while the budget is above zero (it may go into debt,
so any batch up to ``service.max_batch_size`` gets through) and refused whole
while it is not, with the seconds until it is repaid — asked before the body is
parsed (``wait``) and again, charging, once its labels are counted (``admit``).
Nothing of a refused request is judged or recorded, so the client sends it
again as it was.

A token bucket is a dozen lines; a rate-limiting library would bring storage
back-ends and a dependency for them.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable


class LabelBudget:
    """Labels a second for one worker; ``per_second`` 0 takes everything."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic):
        self.per_second = per_second
        self._clock = clock
        self._balance = per_second
        self._updated = clock()
        self._lock = threading.Lock()  # the worker's threads share it

    def wait(self) -> float:
        """0 while the budget is above zero, else the seconds until it is: asked before a request's
        body is parsed, so that refusing a flood costs no parsing."""
        if not self.per_second:
            return 0.0
        with self._lock:
            return self._refill()

    def admit(self, labels: int) -> float:
        """0 when a request of ``labels`` is taken (and charged), else the seconds to wait."""
        if not self.per_second:
            return 0.0
        with self._lock:
            wait = self._refill()
            if not wait:
                self._balance -= labels
            return wait

    def _refill(self) -> float:
        now = self._clock()
        self._balance = min(self.per_second, self._balance + (now - self._updated) * self.per_second)
        self._updated = now
        return max(-self._balance / self.per_second, 1e-3) if self._balance <= 0 else 0.0


def retry_after(seconds: float) -> str:
    """A Retry-After header's whole seconds, rounded up (a client waiting less is refused again)."""
    return str(max(1, math.ceil(seconds)))
