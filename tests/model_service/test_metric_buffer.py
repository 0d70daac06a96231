"""Write-behind recording must expose exactly what direct updates would."""

from __future__ import annotations

import random
import threading

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from modelwatch.model_service.metric_buffer import EventColumns, apply_histogram
from modelwatch.core.series import HTTP_DURATION_BUCKETS
from modelwatch.model_service.metrics import ServiceMetrics


def exposition(registry) -> list[str]:
    """The text format without _created timestamps (they differ by construction
    time) and with sums rounded (float addition order differs)."""
    lines = []
    for line in generate_latest(registry).decode().splitlines():
        if "_created" in line:
            continue
        if "_sum" in line and not line.startswith("#"):
            name, number = line.rsplit(" ", 1)
            line = f"{name} {float(number):.9g}"
        lines.append(line)
    return lines


def test_applied_histogram_equals_observes():
    direct_registry, applied_registry = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("latency_seconds", "l", ["route"], buckets=HTTP_DURATION_BUCKETS, registry=direct_registry)
    applied = Histogram("latency_seconds", "l", ["route"], buckets=HTTP_DURATION_BUCKETS, registry=applied_registry)
    rng = random.Random(3)
    # Values on bucket boundaries too: "le" is inclusive.
    values = [rng.choice([rng.uniform(0, 12), rng.choice(HTTP_DURATION_BUCKETS)]) for _ in range(5000)]
    for value in values:
        direct.labels("/x").observe(value)
    for chunk in range(0, len(values), 700):  # applied in several flushes
        apply_histogram(applied.labels("/x"), np.array(values[chunk:chunk + 700]))
    assert exposition(applied_registry) == exposition(direct_registry)


def test_columns_lose_nothing_with_concurrent_writers_and_drains():
    columns = EventColumns(3)
    drained = []

    def write(thread_no):
        for i in range(20_000):
            columns.extend((thread_no, i, 2.5))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        drained.append(columns.drain())
    drained.append(columns.drain())
    rows = np.concatenate(drained)
    assert rows.shape == (80_000, 3)
    assert (rows[:, 2] == 2.5).all()  # no row torn across drains
    for thread_no in range(4):  # every event of every writer, in order
        assert rows[rows[:, 0] == thread_no, 1].tolist() == list(range(20_000))


def test_in_flight_gauge_counts_started_minus_finished():
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)
    for _ in range(3):
        metrics.request_started("GET")
    metrics.request_finished("/x", "GET", "200", 0.01)
    metrics.flush()
    assert registry.get_sample_value("http_server_active_requests", {"http_request_method": "GET"}) == 2
    metrics.flush()  # reading again must not change it
    assert registry.get_sample_value("http_server_active_requests", {"http_request_method": "GET"}) == 2
    metrics.request_finished("/x", "GET", "200", 0.01)
    metrics.request_finished("/x", "GET", "200", 0.01)
    metrics.flush()
    assert registry.get_sample_value("http_server_active_requests", {"http_request_method": "GET"}) == 0
    assert registry.get_sample_value(
        "http_server_request_duration_seconds_count",
        {"http_route": "/x", "http_request_method": "GET", "http_response_status_code": "200"}) == 3


def test_the_flush_thread_survives_a_failing_flush_and_goes_on(caplog):
    import threading as _threading

    from modelwatch.model_service.metric_buffer import Flusher

    calls, recovered = [], _threading.Event()

    def flush():
        calls.append(1)
        if len(calls) <= 3:
            raise OSError(28, "No space left on device")
        recovered.set()

    Flusher(flush, 0.01).start()
    assert recovered.wait(10)
    assert sum("writing metrics failed" in r.message for r in caplog.records) == 1  # said once, not per attempt
