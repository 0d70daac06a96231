"""Containers from the Docker engine, under cAdvisor's names, so container
dashboards work the same in compose and on Kubernetes.

    # HELP container_cpu_usage_seconds_total Cumulative CPU time consumed.
    # TYPE container_cpu_usage_seconds_total counter
    container_cpu_usage_seconds_total{cpu="total",id="/docker/3f2a…",image="modelwatch-service:1",name="svc-1",...} 12.5

Only running containers are reported (a stopped one disappears), optionally
only those with a label (``exporter.docker_label_filter``, e.g.
``com.docker.compose.project=modelwatch``). The engine is asked only for names,
labels and state, kept current from its event stream
(``docker_directory.py``); the counters come from each container's cgroup and
``/proc`` (``cgroups.py``), as cAdvisor reads them, so a scrape costs a few
file reads per container and no call to the engine. Labels: ``id``
(``/docker/<id>``, as cAdvisor), ``name``, ``image`` (never empty) and the
compose project and service as cAdvisor exposes Docker labels.

The bytes the container's main process and its reaped children read and wrote
(``/proc/<pid>/io``) are reported too, as
``modelwatch_container_process_{read,write}_bytes_total``: block I/O counters
stay empty on hosts where writes bypass the block layer's accounting (seen on
this project's cgroup v1 machines). ``modelwatch_docker_cgroups_unreadable``
counts running containers whose cgroup was not found (mount the host's
``/sys/fs/cgroup`` and ``/proc``; see cgroups.py); they keep their state
series and lose their usage ones.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

import docker
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from modelwatch.exporter.collectors.cgroups import CgroupGone, CgroupReader, ContainerUsage
from modelwatch.exporter.collectors.docker_directory import ContainerDirectory

LABELS = ["id", "name", "image", "container_label_com_docker_compose_project",
          "container_label_com_docker_compose_service"]
# in the order of ContainerUsage.network's values
NETWORK = ("receive_bytes", "receive_packets", "receive_errors", "receive_packets_dropped",
           "transmit_bytes", "transmit_packets", "transmit_errors", "transmit_packets_dropped")


def _started(text: str) -> float:
    """Docker's RFC 3339 time with nanoseconds, as Unix time."""
    seconds, _, fraction = text.rstrip("Z").partition(".")
    base = datetime.fromisoformat(seconds + "+00:00").timestamp()
    return base + (float("0." + fraction[:9]) if fraction else 0.0)


class DockerCollector:
    def __init__(self, label_filter: str = "", connect: Callable[[], docker.DockerClient] | None = None,
                 cgroup_root: Path = Path("/sys/fs/cgroup"), proc: Path = Path("/proc"),
                 refresh_seconds: float = 60.0):
        self._directory = ContainerDirectory(connect or (lambda: docker.from_env(timeout=10)), label_filter,
                                             refresh_seconds)
        self._cgroups = CgroupReader(cgroup_root, proc)

    def collect(self) -> Iterable:
        containers = self._directory.running()
        self._cgroups.forget(set(containers))
        families = _Families()
        now = time.time()
        unreadable = 0
        for container_id, attrs in containers.items():
            host = attrs.get("HostConfig") or {}
            try:
                usage = self._cgroups.usage(container_id, attrs.get("State", {}).get("Pid") or 0,
                                            quota=bool(host.get("NanoCpus") or (host.get("CpuQuota") or 0) > 0),
                                            network=host.get("NetworkMode") not in ("none", "host"))
            except CgroupGone:
                continue  # stopped a moment ago: never served as if still running
            unreadable += usage is None
            families.add(container_id, attrs, usage, now)
        missing = GaugeMetricFamily("modelwatch_docker_cgroups_unreadable",
                                    "Running containers whose cgroup the exporter could not read.")
        missing.add_metric([], unreadable)
        return [*families.all(), missing]


class _Families:
    """The cAdvisor-named families of one collection."""

    def __init__(self):
        def counter(name, text, extra=()):
            return CounterMetricFamily(name, text, labels=[*LABELS, *extra])

        def gauge(name, text, extra=()):
            return GaugeMetricFamily(name, text, labels=[*LABELS, *extra])

        self.cpu = counter("container_cpu_usage_seconds_total", "Cumulative CPU time consumed.", ["cpu"])
        self.user = counter("container_cpu_user_seconds_total", "Cumulative user CPU time consumed.")
        self.system = counter("container_cpu_system_seconds_total", "Cumulative system CPU time consumed.")
        self.periods = counter("container_cpu_cfs_periods_total", "Elapsed CFS enforcement periods.")
        self.throttled = counter("container_cpu_cfs_throttled_periods_total", "Throttled CFS periods.")
        self.throttled_time = counter("container_cpu_cfs_throttled_seconds_total", "Total time throttled.")
        self.memory = gauge("container_memory_usage_bytes", "Current memory usage, including all memory.")
        self.working_set = gauge("container_memory_working_set_bytes", "Current working set (usage minus inactive file).")
        self.limit = gauge("container_spec_memory_limit_bytes", "Memory limit (0: unlimited).")
        self.fs_read = counter("container_fs_reads_bytes_total", "Bytes read (block I/O).", ["device"])
        self.fs_write = counter("container_fs_writes_bytes_total", "Bytes written (block I/O).", ["device"])
        self.fs_reads = counter("container_fs_reads_total", "Reads completed (block I/O).", ["device"])
        self.fs_writes = counter("container_fs_writes_total", "Writes completed (block I/O).", ["device"])
        self.net = {metric: counter(f"container_network_{metric}_total", f"Network {metric.replace('_', ' ')}.",
                                    ["interface"]) for metric in NETWORK}
        self.start = gauge("container_start_time_seconds", "Start time of the container (Unix time).")
        self.last_seen = gauge("container_last_seen", "Last time the container was seen by the exporter.")
        self.process_read = counter("modelwatch_container_process_read_bytes_total",
                                    "Bytes the container's main process and its reaped children read from storage.")
        self.process_write = counter("modelwatch_container_process_write_bytes_total",
                                     "Bytes the container's main process and its reaped children wrote to storage.")
        self.restarts = gauge("modelwatch_container_restarts", "Times Docker restarted the container.")
        self.state = gauge("modelwatch_container_state", "1 for the container's current state.", ["state"])
        self.health = gauge("modelwatch_container_health", "1 for the container's health status (none: no check).",
                            ["status"])

    def add(self, container_id: str, attrs: dict, usage: ContainerUsage | None, now: float) -> None:
        docker_labels = attrs.get("Config", {}).get("Labels") or {}
        image = attrs.get("Config", {}).get("Image") or attrs.get("Image") or "unknown"
        labels = [f"/docker/{container_id}", attrs.get("Name", "").lstrip("/"), image,
                  docker_labels.get("com.docker.compose.project", ""),
                  docker_labels.get("com.docker.compose.service", "")]
        self.limit.add_metric(labels, attrs.get("HostConfig", {}).get("Memory") or 0)
        if usage is not None:
            self._usage(labels, usage)
        state = attrs.get("State", {})
        if state.get("StartedAt"):
            self.start.add_metric(labels, _started(state["StartedAt"]))
        self.last_seen.add_metric(labels, now)
        self.restarts.add_metric(labels, attrs.get("RestartCount", 0))
        self.state.add_metric([*labels, state.get("Status", "unknown")], 1)
        self.health.add_metric([*labels, (state.get("Health") or {}).get("Status", "none")], 1)

    def _usage(self, labels: list[str], usage: ContainerUsage) -> None:
        self.cpu.add_metric([*labels, "total"], usage.cpu_seconds)
        self.user.add_metric(labels, usage.user_seconds)
        self.system.add_metric(labels, usage.system_seconds)
        if usage.periods:  # only under a CPU quota, as cAdvisor
            self.periods.add_metric(labels, usage.periods)
            self.throttled.add_metric(labels, usage.throttled_periods)
            self.throttled_time.add_metric(labels, usage.throttled_seconds)
        if usage.process_io is not None:
            self.process_read.add_metric(labels, usage.process_io[0])
            self.process_write.add_metric(labels, usage.process_io[1])
        self.memory.add_metric(labels, usage.memory_bytes)
        self.working_set.add_metric(labels, max(0, usage.memory_bytes - usage.inactive_file_bytes))
        for (device, op), (size, operations) in sorted(usage.io.items()):
            (self.fs_read if op == "read" else self.fs_write).add_metric([*labels, device], size)
            (self.fs_reads if op == "read" else self.fs_writes).add_metric([*labels, device], operations)
        for interface, values in sorted(usage.network.items()):
            for metric, value in zip(NETWORK, values):
                self.net[metric].add_metric([*labels, interface], value)

    def all(self) -> list:
        return [self.cpu, self.user, self.system, self.periods, self.throttled, self.throttled_time, self.memory,
                self.working_set, self.limit, self.fs_read, self.fs_write, self.fs_reads, self.fs_writes,
                *self.net.values(), self.start, self.last_seen, self.process_read, self.process_write,
                self.restarts, self.state, self.health]
