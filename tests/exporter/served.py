"""Run ``modelwatch exporter`` for real in a test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.model_service.served import free_port


@contextmanager
def run_exporter(state_dir: Path, ready_when: tuple[str, ...] = ("modelwatch_up ",), env: dict | None = None):
    """Yield (base_url, first complete /metrics text) once a scrape holds every ``ready_when`` string."""
    port = free_port()
    full_env = dict(os.environ, MODELWATCH_PATHS__STATE_DIR=str(state_dir), **(env or {}))
    process = subprocess.Popen([sys.executable, "-m", "modelwatch", "exporter", "--port", str(port)], env=full_env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                text = requests.get(f"{base}/metrics", timeout=5).text
            except (requests.ConnectionError, requests.Timeout):  # not listening, or too busy: not yet
                assert process.poll() is None, process.stdout.read()
                text = ""
            if all(marker in text for marker in ready_when):
                break
            assert time.monotonic() < deadline, f"no complete scrape in 60 s:\n{text[-2000:]}"
            time.sleep(0.2)
        yield base, text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
