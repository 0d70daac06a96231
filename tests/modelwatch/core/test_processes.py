"""Recorded pids are trusted only for the process recorded: across clock steps, never across reuse or reboots.

A clock step is simulated where psutil reads the boot time (``/proc/stat``'s btime,
which the kernel derives from the wall clock): every process's ``create_time()``
then moves by the step, as on a machine whose clock NTP or a resumed virtual machine
stepped. The processes are real.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from modelwatch.core import processes
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.processes import RecordedProcess, seconds_since_boot, service_master

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="psutil's Linux boot time is patched")


@pytest.fixture
def sleeper():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def clock_step(monkeypatch):
    """step(seconds): the wall clock jumps; the boot time psutil reads moves with it."""
    real = psutil._psplatform.boot_time

    def step(seconds: float) -> None:
        monkeypatch.setattr(psutil._psplatform, "boot_time", lambda: real() + seconds)
        monkeypatch.setattr(psutil._pslinux, "boot_time", lambda: real() + seconds)

    return step


@pytest.mark.parametrize("seconds", [-3600.0, -1.0, 1.0, 7.5, 86400.0])
def test_a_recorded_process_stays_itself_when_the_clock_is_stepped(sleeper, clock_step, seconds):
    recorded = RecordedProcess.from_record(RecordedProcess.of(sleeper.pid).to_record())
    before = psutil.Process(sleeper.pid).create_time()
    clock_step(seconds)
    assert psutil.Process(sleeper.pid).create_time() == pytest.approx(before + seconds)  # the step is seen
    live = recorded.live()
    assert live is not None and live.pid == sleeper.pid


def test_a_reused_pid_is_not_the_recorded_process(sleeper):
    recorded = RecordedProcess.of(sleeper.pid)
    earlier = RecordedProcess(sleeper.pid, recorded.started - 300, recorded.since_boot - 300, recorded.boot)
    assert earlier.live() is None


def test_a_pid_recorded_in_another_boot_is_not_the_recorded_process(sleeper):
    recorded = RecordedProcess.of(sleeper.pid)
    assert RecordedProcess(sleeper.pid, recorded.started, recorded.since_boot, "another-boot").live() is None


def test_a_dead_process_is_not_live(sleeper):
    recorded = RecordedProcess.of(sleeper.pid)
    sleeper.kill()
    sleeper.wait()
    assert recorded.live() is None


def test_an_older_record_is_checked_by_its_start_time(sleeper):
    """Records written before the boot-relative start (a stack started by an older version) still work."""
    started = psutil.Process(sleeper.pid).create_time()
    assert RecordedProcess.from_record({"pid": sleeper.pid, "started": started}).live() is not None
    assert RecordedProcess.from_record({"pid": sleeper.pid, "started": started - 300}).live() is None
    assert RecordedProcess.from_record(sleeper.pid) is None  # a bare pid proves nothing


@pytest.mark.parametrize("stored", [{"pid": 1, "started": 1.0, "since_boot": "soon", "boot": "x"},
                                    {"pid": 1, "started": 1.0, "since_boot": 1.0, "boot": 7}])
def test_a_malformed_boot_relative_start_falls_back_to_the_start_time(stored):
    assert RecordedProcess.from_record(stored) == RecordedProcess(1, 1.0)


def test_seconds_since_boot_agree_with_the_uptime(sleeper):
    uptime = time.clock_gettime(time.CLOCK_BOOTTIME)
    assert 0 < seconds_since_boot(psutil.Process(sleeper.pid)) <= uptime + 0.5


def _lookalike(metrics_dir):
    """A process with the model service's command line and metrics folder in its environment."""
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "gunicorn",
                             "modelwatch.model_service.wsgi:app"], env=env)


def test_the_master_is_known_by_its_command_and_metrics_folder_not_by_clocks(tmp_path, clock_step):
    pid_file = tmp_path / "run" / "service.pid"
    pid_file.parent.mkdir()
    here, elsewhere = pid_file.parent / "prometheus-multiproc", tmp_path / "other" / "run" / "prometheus-multiproc"
    ours, theirs = _lookalike(here), _lookalike(elsewhere)
    try:
        pid_file.write_text(f"{ours.pid}\n")
        os.utime(pid_file, (time.time() - 3600, time.time() - 3600))  # written "before" it started: a step
        clock_step(600.0)
        assert service_master(pid_file).pid == ours.pid
        pid_file.write_text(f"{theirs.pid}\n")  # a reused pid: another state folder's service
        with pytest.raises(ModelwatchError, match=f"pid {theirs.pid} is another process"):
            service_master(pid_file)
    finally:
        for process in (ours, theirs):
            process.kill()
            process.wait()


def test_a_pid_file_naming_no_process_or_no_number_is_one_line(tmp_path, sleeper):
    pid_file = tmp_path / "service.pid"
    with pytest.raises(ModelwatchError, match="not running"):
        service_master(pid_file)  # no file
    for text in ("", "not a pid\n", "-1\n"):
        pid_file.write_text(text)
        with pytest.raises(ModelwatchError, match="not running"):
            service_master(pid_file)
    pid_file.write_text(f"{sleeper.pid}\n")
    with pytest.raises(ModelwatchError, match="another process"):
        service_master(pid_file)


def test_an_unreadable_environment_is_not_taken_as_proof(tmp_path, monkeypatch):
    pid_file = tmp_path / "run" / "service.pid"
    pid_file.parent.mkdir()
    ours = _lookalike(pid_file.parent / "prometheus-multiproc")
    try:
        pid_file.write_text(f"{ours.pid}\n")

        def denied(self):
            raise psutil.AccessDenied(self.pid)

        monkeypatch.setattr(processes.psutil.Process, "environ", denied)
        with pytest.raises(ModelwatchError, match="another process"):
            service_master(pid_file)
    finally:
        ours.kill()
        ours.wait()
