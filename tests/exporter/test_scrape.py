"""The scrape framework: isolated failures, a deadline, stale data with its age, recovery."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from modelwatch.exporter.collectors import StaleCollection
from modelwatch.exporter.scrape import ScrapeCollector, build
from modelwatch.core.errors import ConfigError
from tests.conftest import make_config


class Fake:
    def __init__(self, name, delay=0.0, fail=False):
        self.name, self.delay, self.fail, self.calls = name, delay, fail, 0
        self.release = threading.Event()

    def collect(self):
        self.calls += 1
        if self.delay:
            self.release.wait(self.delay)
        if self.fail:
            raise ConnectionError("backend down")
        family = GaugeMetricFamily(f"fake_{self.name}", "a fake series")
        family.add_metric([], self.calls)
        return [family]


def registry_with(collectors, deadline=0.3):
    registry = CollectorRegistry()
    registry.register(ScrapeCollector(collectors, deadline))
    return registry


def value(registry, name, **labels):
    return registry.get_sample_value(name, labels)


def test_a_failing_collector_does_not_fail_the_scrape():
    good, bad = Fake("good"), Fake("bad", fail=True)
    registry = registry_with({"good": good, "bad": bad})
    assert value(registry, "fake_good") == 1
    assert value(registry, "modelwatch_scrape_collector_success", collector="good") == 1
    assert value(registry, "modelwatch_scrape_collector_success", collector="bad") == 0
    assert value(registry, "modelwatch_scrape_collector_error_info", collector="bad", error="ConnectionError") == 1
    assert value(registry, "modelwatch_up") == 0
    bad.fail = False  # the backend returns
    value(registry, "fake_bad")  # one scrape to collect again
    assert value(registry, "modelwatch_scrape_collector_success", collector="bad") == 1
    assert value(registry, "modelwatch_scrape_collector_error_info", collector="bad", error="ConnectionError") is None
    assert value(registry, "modelwatch_up") == 1


def test_a_slow_collector_is_served_stale_within_the_deadline():
    slow = Fake("slow")
    registry = registry_with({"slow": slow}, deadline=0.3)
    assert value(registry, "fake_slow") == 1  # first collection is quick
    slow.delay = 5.0
    started = time.monotonic()
    families = {f.name: f for f in registry.collect()}
    assert time.monotonic() - started < 1.0  # the deadline held
    assert families["fake_slow"].samples[0].value == 1  # the last complete collection
    samples = {s.name: s.value for f in families.values() for s in f.samples if s.labels.get("collector") == "slow"}
    assert samples["modelwatch_scrape_collector_success"] == 0
    assert samples["modelwatch_scrape_collector_age_seconds"] >= 0.3
    slow.delay = 0.0
    slow.release.set()  # the background collection finishes
    time.sleep(0.1)
    assert value(registry, "fake_slow") == 3  # a scrape after recovery is fresh again
    assert value(registry, "modelwatch_scrape_collector_success", collector="slow") == 1


def test_build_info_is_served():
    registry = registry_with({})
    assert [s for f in registry.collect() for s in f.samples if s.name == "modelwatch_exporter_build_info"]


def test_unknown_collector_is_a_one_line_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown collector 'dockr'; known: baseline"):
        build(make_config(tmp_path, exporter__collectors="baseline,dockr"))


def test_bad_selectors_and_missing_cluster_config_fail_at_start(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="exporter.docker_label_filter: expected key or key=value"):
        make_config(tmp_path, exporter__docker_label_filter="=oops")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match="kubernetes collector: no in-cluster configuration and no usable kubeconfig"):
        build(make_config(tmp_path, exporter__collectors="kubernetes"))


def test_a_collector_that_fails_after_succeeding_serves_nothing_stale():
    flaky = Fake("flaky")
    registry = registry_with({"flaky": flaky})
    assert value(registry, "fake_flaky") == 1
    flaky.fail = True  # e.g. the Docker daemon stopped: its containers must not look alive
    assert value(registry, "fake_flaky") is None
    assert value(registry, "modelwatch_scrape_collector_success", collector="flaky") == 0
    assert value(registry, "modelwatch_scrape_collector_age_seconds", collector="flaky") > 0
    flaky.fail = False
    assert value(registry, "fake_flaky") is not None  # served again once it recovers


def test_a_collector_with_a_cache_can_serve_it_while_failing():
    class Cached(Fake):
        def collect(self):
            metrics = super().collect() if not self.fail else self.cache
            self.cache = metrics
            if self.fail:
                raise StaleCollection(TimeoutError("API silent"), metrics)
            return metrics

    cached = Cached("cached")
    registry = registry_with({"cached": cached})
    assert value(registry, "fake_cached") == 1
    cached.fail = True
    assert value(registry, "fake_cached") == 1  # served, marked failing
    assert value(registry, "modelwatch_scrape_collector_success", collector="cached") == 0
    assert value(registry, "modelwatch_scrape_collector_error_info", collector="cached", error="TimeoutError") == 1
