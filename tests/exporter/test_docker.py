"""The docker collector against the real Docker engine: CPU, memory limit,
writes, labels, a container that stops, and a daemon that goes away."""

from __future__ import annotations

import time
import uuid

import pytest
from prometheus_client import CollectorRegistry

from modelwatch.exporter.collectors.docker import DockerCollector
from modelwatch.exporter.scrape import ScrapeCollector
from tests.exporter.docker_engine import IMAGE

pytestmark = pytest.mark.integration


def samples(collector, name) -> dict[str, float]:
    """Value per container name."""
    return {s.labels["name"]: s.value for f in collector.collect() for s in f.samples if s.name == name}


@pytest.fixture
def containers(docker_engine):
    client = docker_engine.client
    label = f"modelwatch.test={uuid.uuid4().hex[:8]}"
    key, value = label.split("=")
    run = dict(image=IMAGE, detach=True, network_mode="none", labels={key: value,
               "com.docker.compose.project": "mwtest", "com.docker.compose.service": "svc"})
    started = {
        "burner": client.containers.run(command=["sh", "-c", "while :; do :; done"], name=f"burn-{value}", **run),
        "writer": client.containers.run(
            command=["sh", "-c", "while :; do dd if=/dev/zero of=/f bs=1M count=4 oflag=direct 2>/dev/null; sleep 0.1; done"],
            name=f"write-{value}", **run),
        "limited": client.containers.run(command=["sleep", "600"], name=f"limit-{value}", mem_limit="64m", **run),
    }
    yield label, {role: c.name for role, c in started.items()}, started
    for container in started.values():
        container.remove(force=True)


def test_cpu_memory_writes_and_labels(containers):
    label, names, started = containers
    collector = DockerCollector(label)
    first, t0 = samples(collector, "container_cpu_usage_seconds_total"), time.monotonic()
    writes0 = samples(collector, "modelwatch_container_process_write_bytes_total")
    time.sleep(6)
    second, t1 = samples(collector, "container_cpu_usage_seconds_total"), time.monotonic()
    assert set(first) == set(second) == set(names.values())  # the label filter: only this test's containers
    # Samples are up to 1 s old (Docker's tick), hence the wide band around one core.
    rate = (second[names["burner"]] - first[names["burner"]]) / (t1 - t0)
    assert 0.4 < rate < 1.4, f"a busy loop should use about one core, used {rate:.2f}"
    assert second[names["limited"]] - first[names["limited"]] < 0.1  # sleeping
    limits = samples(collector, "container_spec_memory_limit_bytes")
    assert limits[names["limited"]] == 64 * 2**20 and limits[names["burner"]] == 0
    assert samples(collector, "container_memory_usage_bytes")[names["limited"]] > 0
    writes1 = samples(collector, "modelwatch_container_process_write_bytes_total")
    assert writes1[names["writer"]] - writes0[names["writer"]] > 4 * 2**20
    families = {f.name: f for f in collector.collect()}
    sample = next(s for s in families["container_start_time_seconds"].samples if s.labels["name"] == names["burner"])
    assert sample.labels["image"] == IMAGE
    assert sample.labels["id"] == f"/docker/{started['burner'].id}"
    assert sample.labels["container_label_com_docker_compose_service"] == "svc"
    assert abs(sample.value - time.time()) < 120
    state = next(s for s in families["modelwatch_container_state"].samples if s.labels["name"] == names["burner"])
    assert state.labels["state"] == "running"


def test_a_stopped_container_disappears(containers):
    label, names, started = containers
    collector = DockerCollector(label)
    assert names["limited"] in samples(collector, "container_last_seen")
    started["limited"].stop(timeout=1)
    assert names["limited"] not in samples(collector, "container_last_seen")


def test_daemon_going_away_fails_the_collector_not_the_scrape_and_it_recovers(docker_engine):
    if not docker_engine.owned:
        pytest.skip("the Docker daemon was not started by these tests; not stopping someone else's")
    registry = CollectorRegistry()
    registry.register(ScrapeCollector({"docker": DockerCollector()}, deadline_seconds=15))
    assert registry.get_sample_value("modelwatch_scrape_collector_success", {"collector": "docker"}) == 1
    docker_engine.stop()
    assert registry.get_sample_value("modelwatch_scrape_collector_success", {"collector": "docker"}) == 0
    docker_engine.start()
    assert registry.get_sample_value("modelwatch_scrape_collector_success", {"collector": "docker"}) == 1
