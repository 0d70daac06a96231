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
# v1 block I/O files: the throttle layer's, which counts every request whatever the I/O scheduler
# (and stays empty only where there was no I/O); the CFQ and BFQ schedulers' on kernels without it
_BLKIO_V1 = ("blkio.throttle.{}_recursive", "blkio.{}_recursive", "blkio.bfq.{}_recursive")
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


def read_file(path: str) -> bytes:
    """A small kernel file in one read: cheaper than open() and a text wrapper, at 2,000 files a scrape."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def _keyed(text: bytes, *keys: bytes) -> list[int]:
    """The values of ``keys`` in ``key value`` lines (cpu.stat, memory.stat); 0 for a key not there."""
    values = dict.fromkeys(keys, 0)
    for line in text.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key in values and value.isdigit():
            values[key] = int(value)
    return list(values.values())


class _Files:
    """One container's files, as strings computed once (pathlib per read cost more than the reads)."""

    def __init__(self, root: Path, path: Path, unified: bool, proc: Path, pid: int, own_network: bool):
        def at(controller: str, name: str) -> str:
            return str(root / path / name) if unified else str(root / controller / path / name)

        self.unified = unified
        if unified:
            self.cpu, self.memory, self.memory_stat = at("", "cpu.stat"), at("", "memory.current"), at("", "memory.stat")
            self.io = [at("", "io.stat")]
        else:
            self.cpu, self.ticks = at("cpuacct", "cpuacct.usage"), at("cpuacct", "cpuacct.stat")
            self.throttling = at("cpu", "cpu.stat")
            self.memory, self.memory_stat = at("memory", "memory.usage_in_bytes"), at("memory", "memory.stat")
            self.io = [at("blkio", pattern.format("io_service_bytes")) for pattern in _BLKIO_V1
                       if os.path.exists(at("blkio", pattern.format("io_service_bytes")))][:1]
        self.pid = pid  # a restart gives the container a new main process: its files are found again
        self.net_dev = str(proc / str(pid) / "net" / "dev") if pid and own_network else None


class CgroupReader:
    def __init__(self, cgroup_root: Path = Path("/sys/fs/cgroup"), proc_root: Path = Path("/proc")):
        self.root = cgroup_root
        self.proc = proc_root
        self.unified = (cgroup_root / "cgroup.controllers").exists()
        self._files: dict[str, _Files] = {}  # container id -> its files, once found
        self._host_net = self._net_namespace(1)

    def usage(self, container_id: str, pid: int, quota: bool = True, network: bool = True) -> ContainerUsage | None:
        """The container's counters, or None when its cgroup is not found; CgroupGone when it was and is no more.
        Without a CPU ``quota`` v1's throttling file is not read (it counts nothing); without a ``network``
        of its own (Docker's ``none`` or ``host``) neither are its interfaces."""
        files = self._files.get(container_id)
        known = files is not None
        if files is None or files.pid != pid:
            path = self._find(container_id, pid)
            if path is None:
                return None
            files = _Files(self.root, path, self.unified, self.proc, pid, network and self._own_network(pid))
        try:
            usage = self._read_v2(files) if self.unified else self._read_v1(files, quota)
        except (FileNotFoundError, ProcessLookupError):
            self._files.pop(container_id, None)  # look again next time, should it come back
            if known:
                raise CgroupGone(container_id) from None
            return None
        self._files[container_id] = files
        if files.net_dev:
            usage.network = self._network(files.net_dev)
        return usage

    def forget(self, keep: set[str]) -> None:
        for container_id in set(self._files) - keep:
            del self._files[container_id]

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

    @staticmethod
    def _read_v2(files: _Files) -> ContainerUsage:
        usage_usec, user_usec, system_usec, periods, throttled, throttled_usec = _keyed(
            read_file(files.cpu), b"usage_usec", b"user_usec", b"system_usec", b"nr_periods", b"nr_throttled",
            b"throttled_usec")
        usage = ContainerUsage(
            cpu_seconds=usage_usec / 1e6, user_seconds=user_usec / 1e6, system_seconds=system_usec / 1e6,
            periods=periods, throttled_periods=throttled, throttled_seconds=throttled_usec / 1e6,
            memory_bytes=int(read_file(files.memory)), inactive_file_bytes=_keyed(read_file(files.memory_stat),
                                                                              b"inactive_file")[0])
        try:
            lines = read_file(files.io[0]).decode().splitlines()
        except FileNotFoundError:
            lines = []  # the io controller is not enabled for this tree
        for line in lines:
            device, *pairs = line.split()
            values = dict(pair.split("=", 1) for pair in pairs)
            usage.io[(device, "read")] = (int(values.get("rbytes", 0)), int(values.get("rios", 0)))
            usage.io[(device, "write")] = (int(values.get("wbytes", 0)), int(values.get("wios", 0)))
        return usage

    @staticmethod
    def _read_v1(files: _Files, quota: bool) -> ContainerUsage:
        user, system = _keyed(read_file(files.ticks), b"user", b"system")
        periods, throttled, throttled_ns = _keyed(read_file(files.throttling), b"nr_periods", b"nr_throttled",
                                                  b"throttled_time") if quota else (0, 0, 0)
        usage = ContainerUsage(
            cpu_seconds=int(read_file(files.cpu)) / 1e9, user_seconds=user / _USER_HZ, system_seconds=system / _USER_HZ,
            periods=periods, throttled_periods=throttled, throttled_seconds=throttled_ns / 1e9,
            memory_bytes=int(read_file(files.memory)),
            inactive_file_bytes=_keyed(read_file(files.memory_stat), b"total_inactive_file")[0])
        served = _blkio_v1(read_file(files.io[0])) if files.io else {}
        if served:  # and the operations from the file beside it
            operations = _blkio_v1(read_file(files.io[0].replace("io_service_bytes", "io_serviced")))
            usage.io = {key: (size, operations.get(key, 0)) for key, size in served.items()}
        return usage

    def _net_namespace(self, pid: int) -> str | None:
        try:
            return os.readlink(self.proc / str(pid) / "ns" / "net")
        except OSError:
            return None

    def _own_network(self, pid: int) -> bool:
        """Whether the container has a network namespace of its own (Docker reports none on the host's)."""
        namespace = self._net_namespace(pid) if pid else None
        return bool(pid) and (namespace is None or namespace != self._host_net)

    @staticmethod
    def _network(net_dev: str) -> dict[str, tuple[int, ...]]:
        """The interfaces of the container's network namespace but the loopback, as Docker reports them."""
        try:
            lines = read_file(net_dev).decode().splitlines()[2:]
        except OSError:
            return {}
        interfaces = {}
        for line in lines:
            name, _, counters = line.partition(":")
            name, values = name.strip(), counters.split()
            if name != "lo" and len(values) >= 12:
                interfaces[name] = tuple(int(values[i]) for i in _NET_DEV_COLUMNS)
        return interfaces


def _blkio_v1(text: bytes) -> dict[tuple[str, str], int]:
    values = {}
    for line in text.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("Read", "Write"):
            values[(parts[0], parts[1].lower())] = int(parts[2])
    return values
