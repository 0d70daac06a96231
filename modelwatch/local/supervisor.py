"""The local stack's supervisor: a component that dies is started again.

``modelwatch up`` starts it last (``modelwatch supervise``). Every ``interval``
it checks each recorded component (``RecordedProcess.live``: the recorded pid,
still with its recorded start time); a component that is gone is started again
with the same command, environment and log (appended), and recorded. A
component that keeps dying is retried with a growing pause (1 s doubling to
60 s, back to 1 s once it has stayed up a minute), so a broken one does not
spin. ``down`` stops the supervisor before anything else.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable

from modelwatch.core.processes import RecordedProcess
from modelwatch.local.stack import SUPERVISOR, Stack

LONGEST_PAUSE = 60.0
STEADY_SECONDS = 60.0


@dataclass
class Restarts:
    """One component's restart history: how many, and when the next try may be."""

    count: int = 0
    pause: float = 1.0
    not_before: float = 0.0
    last: float = 0.0

    def due(self, now: float) -> bool:
        return now >= self.not_before

    def restarted(self, now: float) -> None:
        if now - self.last > STEADY_SECONDS:
            self.pause = 1.0  # it had been up a while: a fresh failure, not a crash loop
        self.count += 1
        self.last = now
        self.not_before = now + self.pause
        self.pause = min(LONGEST_PAUSE, self.pause * 2)


def supervise(stack: Stack, stop: threading.Event, interval: float = 1.0,
              say: Callable[[str], None] = print) -> dict[str, Restarts]:
    """Restart dead components until ``stop`` is set or the stack's record is gone (``down`` ran)."""
    history: dict[str, Restarts] = {}
    started: list[subprocess.Popen] = []  # reaped as they exit, so none lingers as a zombie
    env = dict(os.environ)
    while not stop.wait(interval):
        started = [process for process in started if process.poll() is None]
        record = stack.read_record()
        if not record:
            say("the stack's record is gone (modelwatch down): stopping")
            break
        for component in stack.components:
            if component.name == SUPERVISOR:
                continue
            recorded = record.get(component.name)
            if recorded is not None and recorded.live() is not None:
                continue
            restarts = history.setdefault(component.name, Restarts())
            now = time.monotonic()
            if not restarts.due(now):
                continue
            process = stack.start(component, env)
            started.append(process)
            record[component.name] = RecordedProcess.of(process.pid)
            stack.write_record(record)
            restarts.restarted(now)
            say(f"{component.name} was not running: started it again (pid {process.pid}, restart {restarts.count})")
    return history
