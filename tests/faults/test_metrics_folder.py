"""F5: the metrics folder removed under a running service, then a worker killed."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest
import requests

from tests.model_service.served import serve, worker_pids

pytestmark = pytest.mark.integration


def test_f5_a_removed_metrics_folder_and_a_dead_worker_leave_the_master_and_metrics_working(state_dir, report):
    folder = state_dir / "run" / "prometheus-multiproc"
    with serve(state_dir, workers=2) as (base, master):
        workers = worker_pids(master.pid)
        shutil.rmtree(folder)
        os.kill(min(workers), signal.SIGKILL)
        deadline = time.monotonic() + 60
        status = None
        while True:
            assert master.poll() is None, (state_dir / "serve.log").read_text()[-2000:]
            replaced = len(worker_pids(master.pid) - workers) >= 1 and len(worker_pids(master.pid)) == 2
            try:
                status = requests.get(f"{base}/metrics", timeout=10).status_code
            except requests.RequestException:
                status = None
            if replaced and status == 200:
                break
            assert time.monotonic() < deadline, f"workers {worker_pids(master.pid)}, /metrics {status}"
            time.sleep(0.2)
        seconds = 60 - (deadline - time.monotonic())
        text = ""
        deadline = time.monotonic() + 30
        while "http_server_request_duration_seconds_count" not in text:
            assert time.monotonic() < deadline, text[-3000:]
            for _ in range(20):  # new connections: the new worker answers some and writes its files afresh
                requests.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=10)
            time.sleep(1)  # the workers' flush interval
            text = requests.get(f"{base}/metrics", timeout=10).text
        alive = master.poll() is None
    report("F5", master_alive=alive, metrics_status=status, seconds_to_recover=round(seconds, 1))
    assert alive and "http_server_request_duration_seconds" in text
