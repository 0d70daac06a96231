"""The docker collector against the real Docker engine: CPU, memory limit,
writes, labels, values equal to the stats API's, containers that start and
stop (seen from the engine's events), cgroups it cannot read, and a daemon
that goes away."""

from __future__ import annotations

import time
import uuid

import pytest
from prometheus_client import CollectorRegistry

from modelwatch.exporter.collectors.docker import DockerCollector
from modelwatch.exporter.scrape import ScrapeCollector
from tests.exporter.docker_engine import IMAGE
from tests.waiting import wait_until

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
        "quota": client.containers.run(command=["sh", "-c", "while :; do :; done"], name=f"quota-{value}",
                                       nano_cpus=200_000_000, **run),  # a fifth of a core
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
    rate = (second[names["burner"]] - first[names["burner"]]) / (t1 - t0)
    assert 0.4 < rate < 1.2, f"a busy loop should use about one core (less on a busy machine), used {rate:.2f}"
    assert second[names["limited"]] - first[names["limited"]] < 0.1  # sleeping
    quota_rate = (second[names["quota"]] - first[names["quota"]]) / (t1 - t0)
    assert quota_rate < 0.3, f"a fifth of a core allowed, used {quota_rate:.2f}"
    throttled = samples(collector, "container_cpu_cfs_throttled_periods_total")
    assert throttled[names["quota"]] > 0 and set(throttled) == {names["quota"]}  # CFS series only under a quota
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


def test_values_equal_the_stats_api_s(containers):
    """CPU and memory as the engine's stats API reports them, within 5 %: the API's
    sample falls between two of ours taken around it."""
    label, names, started = containers
    collector = DockerCollector(label)
    burner, limited = started["burner"], started["limited"]
    limited.exec_run(["dd", "if=/dev/zero", "of=/cached", "bs=1M", "count=32"])  # 32 MiB of page cache, charged to it
    before_cpu = samples(collector, "container_cpu_usage_seconds_total")[names["burner"]]
    api = {container.name: container.stats(stream=False) for container in (burner, limited)}
    after_cpu = samples(collector, "container_cpu_usage_seconds_total")[names["burner"]]
    memory = samples(collector, "container_memory_usage_bytes")
    working_set = samples(collector, "container_memory_working_set_bytes")

    api_cpu = api[names["burner"]]["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
    assert before_cpu * 0.95 <= api_cpu <= after_cpu * 1.05, (before_cpu, api_cpu, after_cpu)
    stats = api[names["limited"]]["memory_stats"]
    assert stats["usage"] > 32 * 2**20
    assert memory[names["limited"]] == pytest.approx(stats["usage"], rel=0.05)
    inactive = stats["stats"].get("total_inactive_file", stats["stats"].get("inactive_file", 0))
    assert working_set[names["limited"]] == pytest.approx(stats["usage"] - inactive, rel=0.05, abs=2**20)


def test_containers_that_start_and_stop_are_followed_from_the_engine_s_events(docker_engine):
    label, value = "modelwatch.events", uuid.uuid4().hex[:8]
    collector = DockerCollector(f"{label}={value}", refresh_seconds=3600)  # no listing would find it in time
    assert samples(collector, "container_last_seen") == {}
    container = docker_engine.client.containers.run(IMAGE, ["sleep", "600"], name=f"events-{value}", detach=True,
                                                    network_mode="none", labels={label: value})
    try:
        seen = wait_until(lambda: container.name in samples(collector, "container_cpu_usage_seconds_total"), 10,
                          lambda: "a started container was not followed")
        assert seen
        container.restart(timeout=0)
        wait_until(lambda: samples(collector, "modelwatch_container_restarts").get(container.name) is not None and
                   _restart_started(collector, container.name) > time.time() - 30, 10,
                   lambda: "the restarted container's start time was not updated")
        container.stop(timeout=0)
        wait_until(lambda: container.name not in samples(collector, "container_last_seen"), 10,
                   lambda: "a stopped container was still served")
    finally:
        container.remove(force=True)


def _restart_started(collector, name: str) -> float:
    return samples(collector, "container_start_time_seconds").get(name, 0.0)


def test_containers_whose_cgroups_cannot_be_read_keep_their_state_and_are_counted(containers, tmp_path):
    label, names, _ = containers
    collector = DockerCollector(label, cgroup_root=tmp_path)  # nothing mounted there
    assert set(samples(collector, "modelwatch_container_state")) == set(names.values())
    assert samples(collector, "container_cpu_usage_seconds_total") == {}
    families = {f.name: f for f in collector.collect()}
    assert families["modelwatch_docker_cgroups_unreadable"].samples[0].value == len(names)
