"""Processes named by a recorded pid, checked to be the ones that were recorded.

A pid outlives its process: after a crash or a reboot the number is reused, and a
stale ``service.pid`` or stack record then names an unrelated process. Signalling
it (the autoscaler's SIGTTIN, ``down``'s SIGTERM) would hit that process. So a
recorded pid is trusted only with proof that it is the same process:

- the stack records each component's start as seconds since boot, with the boot's
  id (``RecordedProcess``): a live process that started at another moment, or in
  another boot, is not it;
- gunicorn's pid file holds only the pid, so ``service_master`` asks that the process
  is a gunicorn running the model service, with this pid file's metrics folder in
  its environment (``modelwatch serve`` puts it there): a reused pid belongs to
  another command, or to a service of another state folder.

Neither proof reads the wall clock. psutil's ``create_time()`` adds the boot time as
the clock says it now, so a clock step (NTP, a virtual machine resumed) moves every
process's start by the step: compared with a time recorded earlier, a live
component looked dead and the service's master looked like a stranger (the demo
stopped half-way on a CI machine).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from modelwatch.core.config import MULTIPROC_DIR_NAME
from modelwatch.core.errors import ModelwatchError

# Start times count clock ticks (10 ms); records from older versions hold create_time, rounded to the second.
START_TIME_SLACK = 0.5
SERVICE_COMMAND = ("gunicorn", "modelwatch.model_service")
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # model_service.multiprocess.ENV_VAR, set by modelwatch serve
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


def current_boot() -> str:
    """This boot's id (Linux); elsewhere the boot time, which a clock step may move."""
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return f"{psutil.boot_time():.0f}"


def seconds_since_boot(process: psutil.Process) -> float:
    """When ``process`` started, in seconds after boot: unmoved by clock steps."""
    for _ in range(3):
        boot = psutil.boot_time()
        started = process.create_time()  # its ticks since boot, plus the boot time read now
        if psutil.boot_time() == boot:  # no step between the two reads
            return started - boot
    return started - boot


@dataclass(frozen=True)
class RecordedProcess:
    pid: int
    started: float  # create_time when recorded: for people reading the record, and older records
    since_boot: float | None = None
    boot: str | None = None

    @classmethod
    def of(cls, pid: int) -> "RecordedProcess":
        process = psutil.Process(pid)
        return cls(pid, process.create_time(), seconds_since_boot(process), current_boot())

    @classmethod
    def from_record(cls, value) -> "RecordedProcess | None":
        """From a stored {"pid", "started", "since_boot", "boot"} (the last two absent in older records);
        anything else (an older bare pid) proves nothing: None."""
        if not (isinstance(value, dict) and isinstance(value.get("pid"), int)
                and isinstance(value.get("started"), (int, float))):
            return None
        since_boot, boot = value.get("since_boot"), value.get("boot")
        if not (isinstance(since_boot, (int, float)) and isinstance(boot, str)):
            since_boot, boot = None, None
        return cls(value["pid"], float(value["started"]), since_boot, boot)

    def to_record(self) -> dict:
        return {"pid": self.pid, "started": self.started, "since_boot": self.since_boot, "boot": self.boot}

    def live(self) -> psutil.Process | None:
        """The process, if it is still the recorded one and not a zombie."""
        try:
            process = psutil.Process(self.pid)
            if self.since_boot is None:  # an older record: only the clock-bound start time to go by
                same = abs(process.create_time() - self.started) <= START_TIME_SLACK
            else:
                same = self.boot == current_boot() and \
                    abs(seconds_since_boot(process) - self.since_boot) <= START_TIME_SLACK
            if not same:
                return None  # the pid was reused
            return None if process.status() == psutil.STATUS_ZOMBIE else process
        except psutil.Error:
            return None


def service_master(pid_file: Path) -> psutil.Process:
    """The model service's gunicorn master named by ``pid_file``, or a one-line error."""
    pid_file = Path(pid_file)
    not_running = f"the model service is not running (no live pid in {pid_file})"
    try:
        process = psutil.Process(int(pid_file.read_text().strip()))
        command = " ".join(process.cmdline())
        if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped by its parent
            raise ModelwatchError(not_running)
    except (OSError, ValueError, psutil.NoSuchProcess):
        raise ModelwatchError(not_running) from None
    except psutil.Error:  # not ours to read (another user's): not ours to signal either
        command = ""
    if not (all(part in command for part in SERVICE_COMMAND) and _serves_metrics_of(process, pid_file)):
        raise ModelwatchError(f"{not_running}: pid {process.pid} is another process (stale pid file)")
    return process


def _serves_metrics_of(process: psutil.Process, pid_file: Path) -> bool:
    """Whether the process writes its metrics where this pid file's service does (paths.multiproc_dir)."""
    try:
        folder = process.environ().get(METRICS_DIR_VARIABLE)
    except psutil.Error:
        return False
    expected = pid_file.parent / MULTIPROC_DIR_NAME
    return folder is not None and os.path.realpath(folder) == os.path.realpath(expected)
