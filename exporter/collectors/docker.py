"""Containers from the Docker engine, under cAdvisor's names, so container
dashboards work the same in compose and on Kubernetes.

    # HELP container_cpu_usage_seconds_total Cumulative CPU time consumed.
    # TYPE container_cpu_usage_seconds_total counter
    container_cpu_usage_seconds_total{cpu="total",id="/docker/3f2a…",image="modelwatch-service:1",name="svc-1",...} 12.5

Only running containers are reported (a stopped one disappears), optionally
only those with a label (``exporter.docker_label_filter``, e.g.
``com.docker.compose.project=modelwatch``). Each container's stats stream is
followed in the background (the way ``docker stats`` does) and a scrape reads
the latest sample: Docker answers even a one-shot stats call only at its next
1 s collection tick, so asking per scrape costs a second or more. Labels: ``id`` (``/docker/<id>``, as cAdvisor), ``name``,
``image`` (never empty) and the compose project and service as cAdvisor
exposes Docker labels.

Docker's ``blkio_stats`` are empty on some hosts (seen on this project's
cgroup v1 machines), so the bytes the container's main process and its reaped
children read and wrote (``/proc/<pid>/io``) are reported too, as
``modelwatch_container_process_{read,write}_bytes_total``.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

import docker
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

LABELS = ["id", "name", "image", "container_label_com_docker_compose_project",
          "container_label_com_docker_compose_service"]
NETWORK = (("receive_bytes", "rx_bytes"), ("receive_packets", "rx_packets"), ("receive_errors", "rx_errors"),
           ("receive_packets_dropped", "rx_dropped"), ("transmit_bytes", "tx_bytes"),
           ("transmit_packets", "tx_packets"), ("transmit_errors", "tx_errors"),
           ("transmit_packets_dropped", "tx_dropped"))


def _started(text: str) -> float:
    """Docker's RFC 3339 time with nanoseconds, as Unix time."""
    seconds, _, fraction = text.rstrip("Z").partition(".")
    base = datetime.fromisoformat(seconds + "+00:00").timestamp()
    return base + (float("0." + fraction[:9]) if fraction else 0.0)


def _process_io(pid: int, proc: Path) -> tuple[int, int] | None:
    try:
        fields = dict(line.split(": ") for line in (proc / str(pid) / "io").read_text().splitlines())
    except (OSError, ValueError):
        return None
    return int(fields["read_bytes"]), int(fields["write_bytes"])


class _StatsStream:
    """Follows one container's stats stream (Docker sends a sample every second)
    and keeps the latest, so a scrape never waits for Docker's collection tick:
    even one-shot stats wait up to a second for it, per call."""

    INSPECT_EVERY = 5.0  # seconds: state, health, restarts and limits change rarely

    def __init__(self, client: docker.DockerClient, container_id: str):
        self._raw: bytes | None = None  # parsed only when a scrape reads it: most samples are never read
        self.attrs: dict = {}  # the container's inspect document, refreshed every INSPECT_EVERY
        self.first = threading.Event()
        self.alive = True
        threading.Thread(target=self._follow, args=(client, container_id), name=f"docker-stats-{container_id[:12]}",
                         daemon=True).start()

    def _follow(self, client, container_id) -> None:
        try:
            inspected = 0.0
            for raw in client.api.stats(container_id, stream=True, decode=False):
                if time.monotonic() - inspected > self.INSPECT_EVERY:
                    self.attrs = client.api.inspect_container(container_id)
                    inspected = time.monotonic()
                self._raw = raw
                self.first.set()
        except Exception:
            pass  # the container stopped or the daemon went away: a new stream is made if it comes back
        finally:
            self.alive = False
            self.first.set()

    @property
    def latest(self) -> dict | None:
        raw = self._raw
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None  # a partial chunk: the next sample will do


class DockerCollector:
    def __init__(self, label_filter: str = "", connect: Callable[[], docker.DockerClient] | None = None,
                 first_sample_wait: float = 1.5, proc: Path = Path("/proc")):
        self._filters = {"label": [label_filter]} if label_filter else {}
        # One pooled connection per followed container, and some for listing.
        self._connect = connect or (lambda: docker.from_env(max_pool_size=512, timeout=10))
        self._client: docker.DockerClient | None = None
        self._streams: dict[str, _StatsStream] = {}
        self._first_sample_wait = first_sample_wait
        self._proc = proc

    def collect(self) -> Iterable:
        try:
            if self._client is None:
                self._client = self._connect()
                self._streams = {}
            # sparse: no inspect per container here; each stream keeps its own inspect document
            containers = self._client.containers.list(filters=self._filters, sparse=True)
        except Exception:
            self._client = None  # reconnect next time: the daemon may come back
            raise
        running = {container.id for container in containers}
        for stale in set(self._streams) - running:
            del self._streams[stale]  # its stream ends with the container
        new = []
        for container in containers:
            stream = self._streams.get(container.id)
            if stream is None or not stream.alive:
                stream = self._streams[container.id] = _StatsStream(self._client, container.id)
                new.append(stream)
        deadline = time.monotonic() + self._first_sample_wait
        for stream in new:  # a container seen for the first time: wait briefly for its first sample
            stream.first.wait(max(0.0, deadline - time.monotonic()))
        families = _Families()
        now = time.time()
        for container in containers:
            stream = self._streams[container.id]
            sample = stream.latest
            if sample is not None and stream.attrs:
                families.add(container.id, stream.attrs, sample, now, self._proc)
        return families.all()


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
                                    ["interface"]) for metric, _ in NETWORK}
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

    def add(self, container_id: str, attrs: dict, stats: dict, now: float, proc: Path) -> None:
        docker_labels = attrs.get("Config", {}).get("Labels") or {}
        image = attrs.get("Config", {}).get("Image") or attrs.get("Image") or "unknown"
        labels = [f"/docker/{container_id}", attrs.get("Name", "").lstrip("/"), image,
                  docker_labels.get("com.docker.compose.project", ""),
                  docker_labels.get("com.docker.compose.service", "")]
        cpu = stats.get("cpu_stats", {})
        usage = cpu.get("cpu_usage", {})
        self.cpu.add_metric([*labels, "total"], usage.get("total_usage", 0) / 1e9)
        self.user.add_metric(labels, usage.get("usage_in_usermode", 0) / 1e9)
        self.system.add_metric(labels, usage.get("usage_in_kernelmode", 0) / 1e9)
        throttling = cpu.get("throttling_data", {})
        self.periods.add_metric(labels, throttling.get("periods", 0))
        self.throttled.add_metric(labels, throttling.get("throttled_periods", 0))
        self.throttled_time.add_metric(labels, throttling.get("throttled_time", 0) / 1e9)
        memory = stats.get("memory_stats", {})
        used = memory.get("usage", 0)
        detail = memory.get("stats", {})
        inactive = detail.get("total_inactive_file", detail.get("inactive_file", 0))  # cgroup v1 / v2
        self.memory.add_metric(labels, used)
        self.working_set.add_metric(labels, max(0, used - inactive))
        self.limit.add_metric(labels, attrs.get("HostConfig", {}).get("Memory") or 0)
        self._blkio(labels, stats.get("blkio_stats") or {})
        for interface, counters in sorted((stats.get("networks") or {}).items()):
            for metric, field in NETWORK:
                self.net[metric].add_metric([*labels, interface], counters.get(field, 0))
        state = attrs.get("State", {})
        if state.get("StartedAt"):
            self.start.add_metric(labels, _started(state["StartedAt"]))
        self.last_seen.add_metric(labels, now)
        io = _process_io(state.get("Pid") or 0, proc) if state.get("Pid") else None
        if io is not None:
            self.process_read.add_metric(labels, io[0])
            self.process_write.add_metric(labels, io[1])
        self.restarts.add_metric(labels, attrs.get("RestartCount", 0))
        self.state.add_metric([*labels, state.get("Status", "unknown")], 1)
        self.health.add_metric([*labels, (state.get("Health") or {}).get("Status", "none")], 1)

    def _blkio(self, labels: list[str], blkio: dict) -> None:
        targets = {("io_service_bytes_recursive", "read"): self.fs_read,
                   ("io_service_bytes_recursive", "write"): self.fs_write,
                   ("io_serviced_recursive", "read"): self.fs_reads,
                   ("io_serviced_recursive", "write"): self.fs_writes}
        for (key, op), family in targets.items():
            for entry in blkio.get(key) or []:
                if entry.get("op", "").lower() == op:
                    family.add_metric([*labels, f"{entry['major']}:{entry['minor']}"], entry.get("value", 0))

    def all(self) -> list:
        return [self.cpu, self.user, self.system, self.periods, self.throttled, self.throttled_time, self.memory,
                self.working_set, self.limit, self.fs_read, self.fs_write, self.fs_reads, self.fs_writes,
                *self.net.values(), self.start, self.last_seen, self.process_read, self.process_write,
                self.restarts, self.state, self.health]
