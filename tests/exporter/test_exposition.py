"""The exporter's text encoder writes prometheus-client's bytes, and its endpoint serves them."""

from __future__ import annotations

import gzip
import threading

import pytest
import requests
from prometheus_client import generate_latest
from prometheus_client.core import (CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily, InfoMetricFamily, StateSetMetricFamily,
                                    SummaryMetricFamily, UnknownMetricFamily)
from prometheus_client.samples import Exemplar

from modelwatch.exporter.exposition import TextEncoder
from modelwatch.exporter.server import serve
from tests.conftest import make_config
from tests.model_service.served import free_port

AWKWARD_VALUES = ["plain", 'quote " inside', "back\\slash", "new\nline", "ünïcödé ✓", "", "a,b=c{d}"]


class Families:
    def __init__(self, families):
        self.families = families

    def collect(self):
        return self.families


def every_kind() -> list:
    counter = CounterMetricFamily("requests", "Requests\nwith a \\ in the help.", labels=["route", "code"])
    for i, value in enumerate(AWKWARD_VALUES):
        counter.add_metric([value, str(200 + i)], i * 1.5)
    gauge = GaugeMetricFamily("temperature_celsius", "Gauge.", labels=["room"])
    for value in (0.0, -1.0, 1e-9, 123456789.0, 1.5e300, float("inf"), float("-inf"), float("nan"), 2 ** 60):
        gauge.add_metric([repr(value)], value)
    unlabelled = GaugeMetricFamily("up_flag", "No labels.", value=1)
    histogram = HistogramMetricFamily("latency_seconds", "Histogram.", labels=["route"])
    histogram.add_metric(["/a"], buckets=[("0.1", 3), ("1.0", 5), ("+Inf", 6)], sum_value=2.5)
    summary = SummaryMetricFamily("size_bytes", "Summary.", labels=["kind"])
    summary.add_metric(["x"], count_value=4, sum_value=10.0)
    info = InfoMetricFamily("build", "Info.", value={"version": "1.0", "commit": "abc"})
    stateset = StateSetMetricFamily("mode", "State set.", value={"on": True, "off": False})
    gauge_histogram = GaugeHistogramMetricFamily("queue", "Gauge histogram.", buckets=[("1.0", 2), ("+Inf", 3)],
                                                 gsum_value=4.0)
    unknown = UnknownMetricFamily("mystery", "Unknown.", value=7)
    timestamped = GaugeMetricFamily("stamped", "With a timestamp.", labels=["a"])
    timestamped.add_metric(["x"], 1, timestamp=1700000000.5)
    created = CounterMetricFamily("since", "With created.", labels=["a"], created=1700000000.0)
    created.add_metric(["y"], 3, created=1700000000.0)
    exemplar = HistogramMetricFamily("traced_seconds", "With an exemplar.", labels=["a"])
    exemplar.add_metric(["z"], buckets=[("1.0", 1, Exemplar({"trace_id": "t1"}, 0.5)), ("+Inf", 1)], sum_value=0.5)
    dotted = GaugeMetricFamily("dotted", "A label name outside the legacy set.", labels=["service.name"])
    dotted.add_metric(["a"], 1)
    empty = GaugeMetricFamily("nothing_yet", "A family without samples.", labels=["a"])
    return [counter, gauge, unlabelled, histogram, summary, info, stateset, gauge_histogram, unknown, timestamped,
            created, exemplar, dotted, empty]


def test_every_kind_of_family_is_written_as_generate_latest_writes_it():
    families = every_kind()
    encoder = TextEncoder()
    expected = generate_latest(Families(families))
    assert encoder.encode(families) == expected
    assert encoder.encode(families) == expected  # and again, from the label sets it kept


def container_families(containers: range, value: float) -> list:
    cpu = CounterMetricFamily("container_cpu_usage_seconds_total", "CPU.", labels=["id", "name", "cpu"])
    memory = GaugeMetricFamily("container_memory_usage_bytes", "Memory.", labels=["id", "name"])
    for i in containers:
        cpu.add_metric([f"/docker/{i:064x}", f"c{i}", "total"], value + i)
        memory.add_metric([f"/docker/{i:064x}", f"c{i}"], value * 2 + i)
    return [cpu, memory]


def test_values_change_between_bodies_and_only_served_label_sets_are_kept():
    encoder = TextEncoder()
    encoder.encode(container_families(range(50), 1.0))
    for value, containers in ((2.0, range(50)), (3.0, range(10, 60)), (4.0, range(0))):
        families = container_families(containers, value)
        assert encoder.encode(families) == generate_latest(Families(families))
        # the table holds the label sets of the last body only: it cannot grow with churn
        assert len(encoder._label_text) == 2 * len(containers)


def test_concurrent_bodies_are_each_whole():
    encoder = TextEncoder()
    bodies = {}

    def scrape(n: int):
        families = container_families(range(n * 20, n * 20 + 200), float(n))
        bodies[n] = (encoder.encode(families), generate_latest(Families(families)))

    threads = [threading.Thread(target=scrape, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(ours == theirs for ours, theirs in bodies.values())


@pytest.fixture
def endpoint(state_dir):
    config = make_config(state_dir, EXPORTER__PORT=free_port(), EXPORTER__HOST="127.0.0.1",
                         EXPORTER__COLLECTORS="host")
    server, _ = serve(config)
    yield f"http://127.0.0.1:{config.exporter.port}"
    server.shutdown()
    server.server_close()


def test_the_endpoint_serves_text_gzipped_when_asked_and_refuses_other_methods(endpoint):
    plain = requests.get(f"{endpoint}/metrics", headers={"Accept-Encoding": "identity"}, timeout=30)
    assert plain.status_code == 200 and plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "Content-Encoding" not in plain.headers and 'modelwatch_scrape_collector_success{collector="host"} 1.0' in plain.text
    # Prometheus prefers OpenMetrics and accepts this format too: it is what every scraper gets
    zipped = requests.get(f"{endpoint}/metrics", stream=True, timeout=30, headers={
        "Accept-Encoding": "gzip", "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;q=0.1"})
    raw = zipped.raw.read()
    assert zipped.headers["Content-Encoding"] == "gzip" and int(zipped.headers["Content-Length"]) == len(raw)
    assert gzip.decompress(raw).decode().startswith("# HELP ")
    refused = requests.post(f"{endpoint}/metrics", timeout=30)
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, HEAD"
    head = requests.head(f"{endpoint}/metrics", timeout=30)
    assert head.status_code == 200 and head.content == b""


def test_the_endpoint_binds_ipv6_loopback(state_dir):
    config = make_config(state_dir, EXPORTER__PORT=free_port(), EXPORTER__HOST="::1", EXPORTER__COLLECTORS="host")
    try:
        server, _ = serve(config)
    except OSError as exc:  # a machine without IPv6 on loopback
        pytest.skip(f"no IPv6 loopback here: {exc}")
    try:
        answer = requests.get(f"http://[::1]:{config.exporter.port}/metrics", timeout=30)
        assert answer.status_code == 200 and "modelwatch_up 1.0" in answer.text
    finally:
        server.shutdown()
        server.server_close()
