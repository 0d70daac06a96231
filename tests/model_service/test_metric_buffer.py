"""The write-behind buffer must expose exactly what direct updates would."""

from __future__ import annotations

import random
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from model_service.metric_buffer import MetricBuffer
from model_service.metrics import HTTP_DURATION_BUCKETS


def exposition(registry) -> list[str]:
    """The text format without the _created timestamps, which differ by construction time."""
    lines = []
    for line in generate_latest(registry).decode().splitlines():
        if "_created" in line:
            continue
        if "_sum" in line and not line.startswith("#"):  # float sums depend on addition order
            name, number = line.rsplit(" ", 1)
            line = f"{name} {float(number):.9g}"
        lines.append(line)
    return lines


def build(registry):
    return (
        Counter("things_total", "t", ["kind"], registry=registry),
        Histogram("latency_seconds", "l", ["route"], buckets=HTTP_DURATION_BUCKETS, registry=registry),
        Gauge("in_flight", "g", registry=registry),
    )


def test_buffered_exposition_equals_direct_updates():
    direct_registry, buffered_registry = CollectorRegistry(), CollectorRegistry()
    direct = build(direct_registry)
    buffered = build(buffered_registry)
    buffer = MetricBuffer()
    rng = random.Random(3)
    # Values on bucket boundaries too: "le" is inclusive.
    values = [rng.choice([rng.uniform(0, 12), rng.choice(HTTP_DURATION_BUCKETS)]) for _ in range(5000)]
    for i, value in enumerate(values):
        kind, route = ("a", "b")[i % 2], ("/x", "/y")[i % 3 == 0]
        direct[0].labels(kind).inc()
        direct[1].labels(route).observe(value)
        with buffer.lock:
            buffer.add(buffered[0].labels(kind))
            buffer.observe(buffered[1].labels(route), value)
        if i % 700 == 0:
            buffer.flush()  # flushing part-way must not change the result
    direct[2].set(3)
    with buffer.lock:
        buffer.shift(buffered[2], 5)
        buffer.shift(buffered[2], -2)
    buffer.flush()
    assert exposition(buffered_registry) == exposition(direct_registry)


def test_nothing_lost_with_concurrent_writers_and_flushes():
    registry = CollectorRegistry()
    counter = Counter("hits_total", "h", registry=registry)
    buffer = MetricBuffer()
    child = counter

    def write():
        for _ in range(20_000):
            with buffer.lock:
                buffer.add(child)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        buffer.flush()
    buffer.flush()
    assert registry.get_sample_value("hits_total") == 80_000
