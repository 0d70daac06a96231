"""What the autoscaler scales. Locally: the service's gunicorn workers (TTIN
adds one, TTOU retires the oldest, gracefully). A backend reports its replicas
with their age, so new ones can be treated as not ready yet."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from modelwatch.errors import ModelwatchError


@dataclass(frozen=True)
class Replica:
    name: str
    started: float  # Unix time


class GunicornWorkers:
    """The workers of the gunicorn master whose pid is in ``pid_file``."""

    def __init__(self, pid_file: Path):
        self.pid_file = Path(pid_file)

    def _master(self) -> psutil.Process:
        try:
            return psutil.Process(int(self.pid_file.read_text().strip()))
        except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
            raise ModelwatchError(f"the model service is not running (no live pid in {self.pid_file})") from None

    def replicas(self) -> list[Replica]:
        master = self._master()
        found = []
        for child in master.children():
            try:
                found.append(Replica(str(child.pid), child.create_time()))
            except psutil.NoSuchProcess:
                continue  # exited between listing and asking
        return sorted(found, key=lambda r: r.started)

    def scale_to(self, replicas: int, timeout: float = 30.0) -> None:
        """Send one TTIN or TTOU per replica to add or remove, then wait until the count matches."""
        master = self._master()
        change = replicas - len(self.replicas())
        for _ in range(abs(change)):
            os.kill(master.pid, signal.SIGTTIN if change > 0 else signal.SIGTTOU)
            time.sleep(0.05)  # gunicorn handles one signal per wake-up of its loop; don't coalesce them
        deadline = time.monotonic() + timeout
        while len(self.replicas()) != replicas:
            if time.monotonic() > deadline:
                raise ModelwatchError(f"gunicorn did not reach {replicas} workers in {timeout:.0f} s")
            time.sleep(0.1)
