"""A container's CPU, memory, block I/O and network counters, read straight from
its cgroup and ``/proc``, the way cAdvisor does: a few small files per container
per scrape, where following Docker's stats API costs a stream and a thread per
container (and the engine's own CPU to produce it every second).

Both layouts are read: cgroup v2 (one unified tree: ``cpu.stat``,
``memory.current``, ``io.stat``) and v1 (a tree per controller:
``cpuacct.usage``, ``memory.usage_in_bytes``, ``blkio.*``), with the
``cgroupfs`` and ``systemd`` drivers' paths. The figures are the ones Docker's
stats API reports from the same files, so either source gives the same series.

When the exporter runs in a container, mount the host's ``/sys/fs/cgroup`` and
``/proc`` read-only and point ``exporter.cgroup_root`` and ``exporter.proc_root``
at them (compose does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# /proc/<pid>/net/dev columns (after the interface name) of received bytes, packets, errors, drops,
# then transmitted bytes, packets, errors, drops
_NET_DEV_COLUMNS = (0, 1, 2, 3, 8, 9, 10, 11)
# v1 block I/O files in runc's order of preference: CFQ, then BFQ, then the throttle layer (always there)
_BLKIO_V1 = ("blkio.{}_recursive", "blkio.bfq.{}_recursive", "blkio.throttle.{}_recursive")
_USER_HZ = os.sysconf("SC_CLK_TCK")


@dataclass
class ContainerUsage:
    cpu_seconds: float = 0.0
    user_seconds: float = 0.0
    system_seconds: float = 0.0
    periods: int = 0
    throttled_periods: int = 0
    throttled_seconds: float = 0.0
    memory_bytes: int = 0
    inactive_file_bytes: int = 0
    # (major:minor, "read"|"write") -> (bytes, operations)
    io: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    # interface -> received bytes, packets, errors, drops, transmitted bytes, packets, errors, drops;
    # empty when the container shares the host's network
    network: dict[str, tuple[int, ...]] = field(default_factory=dict)


class CgroupGone(LookupError):
    """The container's cgroup was read before and is gone: it stopped (its events may not have arrived yet)."""


def _keyed(path: Path) -> dict[str, int]:
    """``key value`` lines (cpu.stat, memory.stat) as integers."""
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


class CgroupReader:
    def __init__(self, cgroup_root: Path = Path("/sys/fs/cgroup"), proc_root: Path = Path("/proc")):
        self.root = cgroup_root
        self.proc = proc_root
        self.unified = (cgroup_root / "cgroup.controllers").exists()
        self._paths: dict[str, Path] = {}  # container id -> its cgroup path below each controller's mount
        self._host_net = self._net_namespace(1)

    def usage(self, container_id: str, pid: int) -> ContainerUsage | None:
        """The container's counters, or None when its cgroup is not found; CgroupGone when it was and is no more."""
        known = self._paths.get(container_id)
        path = known or self._find(container_id, pid)
        if path is None:
            return None
        try:
            usage = self._read_v2(path) if self.unified else self._read_v1(path)
        except (FileNotFoundError, ProcessLookupError):
            self._paths.pop(container_id, None)  # look again next time, should it come back
            if known:
                raise CgroupGone(container_id) from None
            return None
        self._paths[container_id] = path
        if pid:
            usage.network = self._network(pid)
        return usage

    def forget(self, keep: set[str]) -> None:
        for container_id in set(self._paths) - keep:
            del self._paths[container_id]

    # Where the cgroup is: the main process's own record first, then the drivers' usual names.
    def _find(self, container_id: str, pid: int) -> Path | None:
        candidates = []
        if pid:
            try:
                for line in (self.proc / str(pid) / "cgroup").read_text().splitlines():
                    _, controllers, path = line.split(":", 2)
                    if (controllers == "") == self.unified and ".." not in path:
                        candidates.append(Path(path.lstrip("/")))
            except (OSError, ValueError):
                pass  # gone, or not ours to read: the usual names may still find it
        candidates += [Path("system.slice") / f"docker-{container_id}.scope", Path("docker") / container_id]
        probe = "cpu.stat" if self.unified else "cpuacct/{}/cpuacct.usage"
        for candidate in candidates:
            file = self.root / candidate / probe if self.unified else self.root / probe.format(candidate)
            if file.exists():
                return candidate
        return None

    def _read_v2(self, path: Path) -> ContainerUsage:
        folder = self.root / path
        cpu = _keyed(folder / "cpu.stat")
        memory = _keyed(folder / "memory.stat")
        usage = ContainerUsage(
            cpu_seconds=cpu.get("usage_usec", 0) / 1e6, user_seconds=cpu.get("user_usec", 0) / 1e6,
            system_seconds=cpu.get("system_usec", 0) / 1e6, periods=cpu.get("nr_periods", 0),
            throttled_periods=cpu.get("nr_throttled", 0), throttled_seconds=cpu.get("throttled_usec", 0) / 1e6,
            memory_bytes=int((folder / "memory.current").read_text()),
            inactive_file_bytes=memory.get("inactive_file", 0))
        try:
            lines = (folder / "io.stat").read_text().splitlines()
        except FileNotFoundError:
            lines = []  # the io controller is not enabled for this tree
        for line in lines:
            device, *pairs = line.split()
            values = dict(pair.split("=", 1) for pair in pairs)
            usage.io[(device, "read")] = (int(values.get("rbytes", 0)), int(values.get("rios", 0)))
            usage.io[(device, "write")] = (int(values.get("wbytes", 0)), int(values.get("wios", 0)))
        return usage

    def _read_v1(self, path: Path) -> ContainerUsage:
        def file(controller: str, name: str) -> Path:
            return self.root / controller / path / name

        ticks = _keyed(file("cpuacct", "cpuacct.stat"))
        throttling = _keyed(file("cpu", "cpu.stat"))
        memory = _keyed(file("memory", "memory.stat"))
        usage = ContainerUsage(
            cpu_seconds=int(file("cpuacct", "cpuacct.usage").read_text()) / 1e9,
            user_seconds=ticks.get("user", 0) / _USER_HZ, system_seconds=ticks.get("system", 0) / _USER_HZ,
            periods=throttling.get("nr_periods", 0), throttled_periods=throttling.get("nr_throttled", 0),
            throttled_seconds=throttling.get("throttled_time", 0) / 1e9,
            memory_bytes=int(file("memory", "memory.usage_in_bytes").read_text()),
            inactive_file_bytes=memory.get("total_inactive_file", 0))
        served, serviced = self._blkio_v1(file, "io_service_bytes"), self._blkio_v1(file, "io_serviced")
        for key in served.keys() | serviced.keys():
            usage.io[key] = (served.get(key, 0), serviced.get(key, 0))
        return usage

    @staticmethod
    def _blkio_v1(file, name: str) -> dict[tuple[str, str], int]:
        for pattern in _BLKIO_V1:
            try:
                lines = file("blkio", pattern.format(name)).read_text().splitlines()
            except FileNotFoundError:
                continue
            values = {}
            for line in lines:
                parts = line.split()
                if len(parts) == 3 and parts[1] in ("Read", "Write"):
                    values[(parts[0], parts[1].lower())] = int(parts[2])
            if values:
                return values
        return {}

    def _net_namespace(self, pid: int) -> str | None:
        try:
            return os.readlink(self.proc / str(pid) / "ns" / "net")
        except OSError:
            return None

    def _network(self, pid: int) -> dict[str, tuple[int, ...]]:
        """The interfaces of the container's network namespace, as Docker reports them:
        none for a container on the host's network, and never the loopback."""
        namespace = self._net_namespace(pid)
        if namespace is not None and namespace == self._host_net:
            return {}
        try:
            lines = (self.proc / str(pid) / "net" / "dev").read_text().splitlines()[2:]
        except OSError:
            return {}
        interfaces = {}
        for line in lines:
            name, _, counters = line.partition(":")
            name, values = name.strip(), counters.split()
            if name != "lo" and len(values) >= 12:
                interfaces[name] = tuple(int(values[i]) for i in _NET_DEV_COLUMNS)
        return interfaces
