"""Run ``modelwatch serve`` for real (gunicorn, several workers) in a test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve(state_dir: Path, workers: int = 2, port: int | None = None, **settings):
    """Yield (base_url, process) once /readyz answers on ``port`` (a free one by default; with a
    ``socket`` setting, where the edge in front listens); stop gracefully afterwards. With
    ``grpc_port=0`` left out gRPC is off (tests/conftest.py); give it a port to serve it."""
    port = port or free_port()
    env = dict(os.environ, MODELWATCH_PATHS__STATE_DIR=str(state_dir))
    env.update({f"MODELWATCH_SERVICE__{k.upper()}": str(v) for k, v in settings.items()})
    log = open(state_dir / "serve.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "modelwatch", "serve", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"modelwatch serve exited: {(state_dir / 'serve.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{base}/readyz", timeout=5).status_code == 200 and every_worker_loaded(
                        state_dir, process.pid, workers, settings):
                    break
            except requests.RequestException:
                pass  # not listening yet, or workers still booting
            if time.monotonic() > deadline:
                raise AssertionError("modelwatch serve did not become ready in 60 s")
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def every_worker_loaded(state_dir: Path, master_pid: int, workers: int, settings: dict) -> bool:
    """/readyz answers from one worker: the others may still be loading the models. A worker that
    loaded a version has set its model_info gauge, so its own livemax file exists."""
    if str(settings.get("instrumentation", "true")).lower() == "false":
        return True
    pids = worker_pids(master_pid)
    folder = state_dir / "run" / "prometheus-multiproc"
    return len(pids) >= workers and all((folder / f"gauge_livemax_{pid}.db").exists() for pid in pids)


def worker_pids(master_pid: int) -> set[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return {int(pid) for pid in children}
