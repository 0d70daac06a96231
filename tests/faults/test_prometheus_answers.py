"""F9: the autoscaler, running for real against a real service, while its Prometheus answers nonsense.

The stand-in Prometheus is the fault being injected: a loopback server answering the
query API with NaN, +Inf, a bare list, a scalar, an HTML page, a 500 and a 15 s stall,
in turn. The autoscaler must keep running, hold the replicas and say the metric is missing.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.exporter.json_http import json_server
from tests.model_service.served import free_port, serve, worker_pids

pytestmark = pytest.mark.integration


def vector(value: str) -> bytes:
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"replica": "1"}, "value": [time.time(), value]}]}}).encode()


ANSWERS = [
    ("NaN", lambda: (200, vector("NaN"))),
    ("+Inf", lambda: (200, vector("+Inf"))),
    ("[]", lambda: (200, b"[]")),
    ("scalar", lambda: (200, json.dumps({"status": "success", "data": {"resultType": "scalar",
                                                                        "result": [time.time(), "7"]}}).encode())),
    ("HTML", lambda: (200, b"<html><body>502 Bad Gateway</body></html>")),
    ("500", lambda: (500, b'{"status": "error", "error": "internal"}')),
    ("stall 15 s", lambda: (time.sleep(15), (200, vector("3")))[1]),
]


def test_f9_the_autoscaler_holds_and_reports_no_metric_while_prometheus_answers_nonsense(state_dir, report):
    served_answers = []
    cycle = itertools.cycle(ANSWERS)
    lock = threading.Lock()

    def answer(path):
        with lock:
            name, make = next(cycle)
            served_answers.append(name)
        return make()

    prometheus = json_server(answer)
    port = free_port()
    env = dict(os.environ, MODELWATCH_PATHS__STATE_DIR=str(state_dir), MODELWATCH_AUTOSCALER__PORT=str(port),
               MODELWATCH_AUTOSCALER__SYNC_PERIOD_SECONDS="0.5", MODELWATCH_AUTOSCALER__MIN_REPLICAS="1",
               MODELWATCH_PROMETHEUS__PORT=str(prometheus.server_address[1]))
    try:
        with serve(state_dir, workers=2) as (_, service):
            before = sorted(worker_pids(service.pid))
            autoscaler = subprocess.Popen([sys.executable, "-m", "modelwatch", "autoscaler"], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                deadline = time.monotonic() + 120  # one cycle is about 15 s of stall and six quick syncs
                while len(served_answers) < len(ANSWERS) + 2 and autoscaler.poll() is None:
                    assert time.monotonic() < deadline, f"only {served_answers} in 120 s"
                    time.sleep(0.2)
                alive = autoscaler.poll() is None
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text if alive else ""
                after = sorted(worker_pids(service.pid))
            finally:
                autoscaler.terminate()
                output = autoscaler.communicate(timeout=30)[0]
    finally:
        prometheus.shutdown()
    available = [line for line in text.splitlines() if line.startswith("modelwatch_autoscaler_metric_available")]
    report("F9", autoscaler_alive=alive, syncs=len(served_answers), replicas_before=len(before),
           replicas_after=len(after), metric_available=available[0].split()[-1] if available else None)
    assert alive, output[-3000:]
    assert after == before
    assert available and float(available[0].split()[-1]) == 0
    assert "Traceback" not in output
