"""F16: a stale pid (service.pid or the stack's record) that now names an unrelated process.

The unrelated process is real and counts every signal it gets; the autoscaler, the
exporter's process collector and ``modelwatch down`` run for real against it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from modelwatch.core.errors import ModelwatchError
from modelwatch.autoscaler.backends import GunicornWorkers
from modelwatch.exporter.collectors.process import ProcessCollector
from tests.model_service.served import free_port

pytestmark = pytest.mark.integration

# Counts SIGTTIN, SIGTTOU and SIGTERM into a file; its extra arguments make its command line
# whatever the test wants it to look like.
DECOY = """
import signal, sys, time
log = open(sys.argv[1], "a", buffering=1)
for number in (signal.SIGTTIN, signal.SIGTTOU, signal.SIGTERM):
    signal.signal(number, lambda n, frame: log.write(signal.Signals(n).name + "\\n"))
open(sys.argv[1] + ".ready", "w").close()
while True:
    time.sleep(0.1)
"""


@pytest.fixture
def decoy(tmp_path):
    """start(*argv_tail) -> (process, signals received so far)."""
    started = []

    def start(*argv_tail: str):
        log = tmp_path / f"signals-{len(started)}.log"
        process = subprocess.Popen([sys.executable, "-c", DECOY, str(log), *argv_tail], start_new_session=True)
        started.append(process)
        deadline = time.monotonic() + 30
        while not Path(f"{log}.ready").exists():
            assert time.monotonic() < deadline and process.poll() is None, "the decoy did not start"
            time.sleep(0.05)
        return process, lambda: log.read_text().split() if log.exists() else []

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_f16_an_unrelated_process_behind_service_pid_gets_no_signal(state_dir, decoy, report, monkeypatch):
    plain, plain_signals = decoy()
    # A reused pid that went to the model service of another state folder: the same command line.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(state_dir.parent / "other" / "run" / "prometheus-multiproc"))
    lookalike, lookalike_signals = decoy("gunicorn", "modelwatch.model_service.wsgi:app")
    monkeypatch.undo()
    pid_file = state_dir / "run" / "service.pid"
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    for process, why in ((plain, "another process"), (lookalike, "another process")):
        pid_file.write_text(f"{process.pid}\n")
        with pytest.raises(ModelwatchError, match=why):
            GunicornWorkers(pid_file).scale_to(3, timeout=2)
        assert ProcessCollector("model-service", pid_file).processes() == []

    # The autoscaler, running for real, syncs a few times against the stale pid file.
    port = free_port()
    env = dict(os.environ, MODELWATCH_PATHS__STATE_DIR=str(state_dir), MODELWATCH_AUTOSCALER__PORT=str(port),
               MODELWATCH_AUTOSCALER__SYNC_PERIOD_SECONDS="0.5", MODELWATCH_AUTOSCALER__MIN_REPLICAS="2",
               MODELWATCH_PROMETHEUS__PORT=str(free_port()))
    autoscaler = subprocess.Popen([sys.executable, "-m", "modelwatch", "autoscaler"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert autoscaler.poll() is None, autoscaler.stdout.read()
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
                if "stale pid file" in text or time.monotonic() > deadline:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        time.sleep(2)  # a few more syncs
        assert autoscaler.poll() is None
    finally:
        autoscaler.terminate()
        output = autoscaler.communicate(timeout=30)[0]
    signals = len(plain_signals()) + len(lookalike_signals())
    report("F16", signals_to_unrelated_process_from_autoscaler=signals)
    assert signals == 0
    assert "stale pid file" in output


def test_f16_down_leaves_a_process_that_reused_a_recorded_pid_alone(state_dir, decoy, report):
    other, signals = decoy()
    record = state_dir / "stack" / "processes.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    started = psutil.Process(other.pid).create_time()
    # Recorded by an earlier up, for a process that started 5 minutes before this one took its pid.
    record.write_text(json.dumps({"service": {"pid": other.pid, "started": started - 300},
                                  "prometheus": other.pid}))  # and a bare pid, as older versions wrote
    env = dict(os.environ, MODELWATCH_PATHS__STATE_DIR=str(state_dir))
    status = subprocess.run([sys.executable, "-m", "modelwatch", "status"], env=env, capture_output=True, text=True,
                            timeout=120)
    down = subprocess.run([sys.executable, "-m", "modelwatch", "down"], env=env, capture_output=True, text=True,
                          timeout=120)
    time.sleep(0.5)
    report("F16", signals_to_unrelated_process_from_down=len(signals()))
    assert down.returncode == 0, down.stderr
    assert other.poll() is None and signals() == []
    assert str(other.pid) not in status.stdout


def test_f16_serve_replaces_a_stale_pid_file_and_refuses_a_second_service(state_dir, decoy):
    from tests.model_service.served import serve

    other, signals = decoy()
    pid_file = state_dir / "run" / "service.pid"
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{other.pid}\n")  # gunicorn alone would refuse: "Already running on PID ..."
    with serve(state_dir) as (_, master):
        assert pid_file.read_text().strip() == str(master.pid)
        env = dict(os.environ, MODELWATCH_PATHS__STATE_DIR=str(state_dir))
        second = subprocess.run([sys.executable, "-m", "modelwatch", "serve", "--port", str(free_port())], env=env,
                                capture_output=True, text=True, timeout=120)
    assert second.returncode != 0 and f"already running (pid {master.pid}" in second.stderr
    assert second.stderr.strip().count("\n") == 0
    assert other.poll() is None and signals() == []
