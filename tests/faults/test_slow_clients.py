"""F1: clients that send part of a request and stall, held against the local stack's edge.

Real HAProxy in front of real gunicorn (``modelwatch up``); the slow clients are raw
sockets that send a request head without its end and then nothing, reconnecting when the
edge cuts them, so N of them are held for the whole period. Meanwhile a prober asks
``/healthz`` and classifies, as a monitor and a user would.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time

import pytest
import requests

from modelwatch.model_service.keys import KeyStore
from tests.faults.local_stack import local_stack

pytestmark = pytest.mark.integration

HOLD_SECONDS = 30
LEVELS = (8, 32, 256)
PARTIAL = b"POST /api/v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Len"


def hold_slow_connections(port: int, count: int, stop: threading.Event) -> list[int]:
    """Keep ``count`` stalled connections open until ``stop``; returns how many times each was cut."""
    cuts = [0] * count

    def one(index: int):
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                    connection.sendall(PARTIAL)
                    connection.settimeout(0.5)
                    while not stop.is_set():
                        try:
                            if not connection.recv(4096):
                                break  # cut by the server: come back
                        except socket.timeout:
                            continue
                    cuts[index] += 1
            except OSError:
                time.sleep(0.1)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return cuts


def probe(base: str, key: str, seconds: float) -> tuple[int, int, list[float]]:
    """(sent, answered 200, latencies in ms) of a probe every 100 ms, alternating /healthz and a classify."""
    session = requests.Session()
    sent, answered, latencies = 0, 0, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        path = "/healthz" if sent % 2 == 0 else f"/api/v1/classify?sl=5.1&sw=3.5&pl=1.4&pw=0.3&key={key}"
        started = time.monotonic()
        sent += 1
        try:
            if session.get(base + path, timeout=5).status_code == 200:
                answered += 1
        except requests.RequestException:
            session = requests.Session()
        latencies.append((time.monotonic() - started) * 1000)
        time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
    return sent, answered, latencies


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def test_f1_slow_clients_cost_the_service_nothing_behind_the_edge(state_dir, monkeypatch, report):
    key = KeyStore(state_dir / "keys.json").add("prober")
    figures = {}
    with local_stack(state_dir, monkeypatch) as env:
        port = int(env["MODELWATCH_SERVICE__PORT"])
        base = f"http://127.0.0.1:{port}"
        for count in LEVELS:
            stop = threading.Event()
            cuts = hold_slow_connections(port, count, stop)
            time.sleep(1)  # all of them connected and stalled
            sent, answered, latencies = probe(base, key, HOLD_SECONDS)
            stop.set()
            figures[count] = {"answered": f"{answered}/{sent}", "p99_ms": round(p99(latencies), 1),
                              "slow_connections_cut": sum(cuts)}
    report("F1", **{f"slow_{count}": value for count, value in figures.items()})
    for count, figure in figures.items():
        answered, sent = map(int, figure["answered"].split("/"))
        assert answered == sent, (count, figure)
    assert figures[256]["p99_ms"] < 250
    assert figures[256]["slow_connections_cut"] > 0  # the edge's request timeout did cut them
