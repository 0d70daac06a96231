"""Processes named by a recorded pid, checked to be the ones that were recorded.

A pid outlives its process: after a crash or a reboot the number is reused, and a
stale ``service.pid`` or stack record then names an unrelated process. Signalling
it (the autoscaler's SIGTTIN, ``down``'s SIGTERM) would hit that process. So a
recorded pid is trusted only with proof that it is the same process:

- the stack records each component's start time next to its pid
  (``RecordedProcess``), and a live process with another start time is not it;
- gunicorn's pid file holds only the pid, so ``service_master`` asks that the process
  started before the file was written (a reused pid belongs to a newer process)
  and that its command line is a gunicorn running the model service.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psutil

from modelwatch.core.errors import ModelwatchError

# create_time is derived from boot time and clock ticks: allow for its rounding.
START_TIME_SLACK = 0.5
SERVICE_COMMAND = ("gunicorn", "modelwatch.model_service")


@dataclass(frozen=True)
class RecordedProcess:
    pid: int
    started: float  # psutil's create_time when it was recorded

    @classmethod
    def of(cls, pid: int) -> "RecordedProcess":
        return cls(pid, psutil.Process(pid).create_time())

    @classmethod
    def from_record(cls, value) -> "RecordedProcess | None":
        """From a stored {"pid", "started"}; anything else (an older bare pid) proves nothing: None."""
        if isinstance(value, dict) and isinstance(value.get("pid"), int) and isinstance(value.get("started"), (int, float)):
            return cls(value["pid"], float(value["started"]))
        return None

    def to_record(self) -> dict:
        return {"pid": self.pid, "started": self.started}

    def live(self) -> psutil.Process | None:
        """The process, if it is still the recorded one and not a zombie."""
        try:
            process = psutil.Process(self.pid)
            if abs(process.create_time() - self.started) > START_TIME_SLACK:
                return None  # the pid was reused
            return None if process.status() == psutil.STATUS_ZOMBIE else process
        except psutil.Error:
            return None


def service_master(pid_file: Path) -> psutil.Process:
    """The model service's gunicorn master named by ``pid_file``, or a one-line error."""
    pid_file = Path(pid_file)
    not_running = f"the model service is not running (no live pid in {pid_file})"
    try:
        written = pid_file.stat().st_mtime
        process = psutil.Process(int(pid_file.read_text().strip()))
        started, command = process.create_time(), " ".join(process.cmdline())
        if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped by its parent
            raise ModelwatchError(not_running)
    except (OSError, ValueError, psutil.Error):
        raise ModelwatchError(not_running) from None
    if started > written + START_TIME_SLACK or not all(part in command for part in SERVICE_COMMAND):
        raise ModelwatchError(f"{not_running}: pid {process.pid} is another process (stale pid file)")
    return process
