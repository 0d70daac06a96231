"""F6: workers SIGKILLed mid-request under steady load.

Real gunicorn, real clients on fresh connections sending 1,000-row batches (about
30 ms each, so a kill finds requests in flight), and real SIGKILLs. What clients
saw fail must be what the availability SLO counts: the 5xx in the service's own
request histogram, which the SLO rules read.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from modelwatch.model_service.keys import KeyStore
from tests.model_service.served import serve, worker_pids

pytestmark = pytest.mark.integration

KILLS = 5
CLIENTS = 6  # fewer than the workers' threads: every request is in a handler, none waits in a queue
SETOSA = [5.1, 3.5, 1.4, 0.2]


def server_errors(base: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "http_server_request_duration_seconds_count"
               and s.labels["http_response_status_code"].startswith("5"))


def test_f6_requests_a_killed_worker_had_in_flight_are_counted_as_the_clients_saw_them(state_dir, report):
    key = KeyStore(state_dir / "keys.json").add("alice")
    body = json.dumps({"instances": [SETOSA] * 1000}).encode()  # encoded once: the clients must not be the bottleneck
    headers = {"X-API-Key": key, "Connection": "close", "Content-Type": "application/json"}
    outcomes = {"ok": 0, "failed": 0, "5xx": 0}
    lock, stop = threading.Lock(), threading.Event()

    def client(base):
        while not stop.is_set():
            try:
                status = requests.post(f"{base}/api/v1/predict", data=body, timeout=30, headers=headers).status_code
                outcome = "5xx" if status >= 500 else "ok"
            except requests.RequestException:  # a reset, or an answer cut short: what a killed worker leaves
                outcome = "failed"
            with lock:
                outcomes[outcome] += 1

    with serve(state_dir, workers=2, threads=8) as (base, master):
        before = server_errors(base)
        clients = [threading.Thread(target=client, args=(base,)) for _ in range(CLIENTS)]
        for thread in clients:
            thread.start()
        try:
            for _ in range(KILLS):
                time.sleep(1.5)  # steady load again, on the replacement worker too
                os.kill(min(worker_pids(master.pid)), signal.SIGKILL)  # the longest-serving one
            time.sleep(1.5)
        finally:
            stop.set()
            for thread in clients:
                thread.join(60)
        # Each worker flushes its counts every second; the master writes the lost ones at once.
        time.sleep(2)
        counted = server_errors(base) - before
        alive = master.poll() is None
        log = (state_dir / "serve.log").read_text()
    seen = outcomes["failed"] + outcomes["5xx"]
    report("F6", kills=KILLS, requests=sum(outcomes.values()), client_failures=seen, slo_counted_5xx=int(counted))
    assert alive
    assert outcomes["failed"] >= 1, outcomes  # the kills did find requests in flight
    # Equal in most runs here. A kill between accepting and queueing a connection can hide one or two.
    # A kill after a thread sent its answer and before it cleared its slot counts a request the client
    # got: after the send the thread waits for the GIL behind the other seven, so on a loaded machine
    # that window is wider (CI once counted 19 for 16 seen): the SLO errs on the strict side.
    assert -2 <= counted - seen <= max(3, seen // 4), (outcomes, counted, log[-2000:])
    assert "request(s) in flight; counted as 500s" in log
