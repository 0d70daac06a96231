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

import errno
import os
import resource
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
    # bytes the main process and its reaped children read and wrote; None when unreadable
    process_io: tuple[int, int] | None = None


class CgroupGone(LookupError):
    """The container's cgroup was read before and is gone: it stopped (its events may not have arrived yet)."""


def read_file(path: str) -> bytes:
    """A small kernel file in one read: cheaper than open() and a text wrapper, at 2,000 files a scrape."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


# What the kernel answers a read of an open file whose cgroup was removed (ENODEV) or whose process
# exited (ESRCH)
_GONE = (errno.ENODEV, errno.ESRCH, errno.ENOENT)


class OpenFiles:
    """Kernel files kept open and read again from offset 0, which makes the kernel generate them
    afresh: one pread a file per scrape instead of open, read and close (open cost the most of
    the three, 7–9 µs here, at 1,200 files a scrape with 200 containers).

    At most ``budget`` files are held (half the descriptor limit, raised to its hard limit as
    Go's runtime does for cAdvisor and node_exporter); past it, files are read once and closed.
    A read of a file that is gone raises FileNotFoundError, whichever way the kernel says it."""

    def __init__(self, budget: int | None = None):
        self._fds: dict[str, int] = {}
        self._budget = budget if budget is not None else _raise_descriptor_limit() // 2

    def read(self, path: str) -> bytes:
        fd = self._fds.get(path)
        if fd is None:
            if len(self._fds) >= self._budget:
                return read_file(path)
            fd = self._fds[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.pread(fd, 65536, 0)
        except OSError as exc:
            self.close([path])
            if exc.errno in _GONE:
                raise FileNotFoundError(exc.errno, f"{path} is gone") from None
            raise
        return data

    def close(self, paths) -> None:
        for path in paths:
            fd = self._fds.pop(path, None)
            if fd is not None:
                os.close(fd)

    def __len__(self) -> int:
        return len(self._fds)


def _raise_descriptor_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # not allowed here: the soft limit it is
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def _keyed(text: bytes, *keys: bytes) -> list[int]:
    """The values of ``keys`` in ``key value`` lines (cpu.stat, memory.stat); 0 for a key not there.
    Found rather than parsed: v1's memory.stat has 40 lines, of which one is wanted."""
    text = b"\n" + text
    values = []
    for key in keys:
        start = text.find(b"\n" + key + b" ")
        if start < 0:
            values.append(0)
            continue
        start += len(key) + 2
        end = text.find(b"\n", start)
        value = text[start:end] if end >= 0 else text[start:]
        values.append(int(value) if value.isdigit() else 0)
    return values


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
        self.process_io = str(proc / str(pid) / "io") if pid else None
        # read once a scrape, never held open: an open net/dev would keep a dead container's namespace alive
        self.net_dev = str(proc / str(pid) / "net" / "dev") if pid and own_network else None

    def held(self) -> list[str]:
        """The files kept open between scrapes."""
        v1 = [] if self.unified else [self.ticks, self.throttling]
        return [self.cpu, self.memory, self.memory_stat, *self.io, *v1,
                *([self.io[0].replace("io_service_bytes", "io_serviced")] if self.io and not self.unified else []),
                *([self.process_io] if self.process_io else [])]


class CgroupReader:
    def __init__(self, cgroup_root: Path = Path("/sys/fs/cgroup"), proc_root: Path = Path("/proc")):
        self.root = cgroup_root
        self.proc = proc_root
        self.unified = (cgroup_root / "cgroup.controllers").exists()
        self._files: dict[str, _Files] = {}  # container id -> its files, once found
        self._open = OpenFiles()
        self._host_net = self._net_namespace(1)

    def usage(self, container_id: str, pid: int, quota: bool = True, network: bool = True) -> ContainerUsage | None:
        """The container's counters, or None when its cgroup is not found; CgroupGone when it was and is no more.
        Without a CPU ``quota`` v1's throttling file is not read (it counts nothing); without a ``network``
        of its own (Docker's ``none`` or ``host``) neither are its interfaces."""
        files = self._files.get(container_id)
        known = files is not None
        if files is None or files.pid != pid:
            if known:  # its main process changed (a restart): the old process's files are of no use
                self._open.close(files.held())
                del self._files[container_id]
            path = self._find(container_id, pid)
            if path is None:
                return None
            files = _Files(self.root, path, self.unified, self.proc, pid, network and self._own_network(pid))
        try:
            usage = self._read_v2(files, self._open.read) if self.unified else self._read_v1(files, quota, self._open.read)
        except (FileNotFoundError, ProcessLookupError, ValueError):  # ValueError: an empty read, the kernel's end
            self._open.close(files.held())
            self._files.pop(container_id, None)  # look again next time, should it come back
            if known:
                raise CgroupGone(container_id) from None
            return None
        self._files[container_id] = files
        usage.process_io = self._process_io(files.process_io) if files.process_io else None
        if files.net_dev:
            usage.network = self._network(files.net_dev)
        return usage

    def forget(self, keep: set[str]) -> None:
        for container_id in set(self._files) - keep:
            self._open.close(self._files.pop(container_id).held())

    def _process_io(self, path: str) -> tuple[int, int] | None:
        """Bytes the main process and its reaped children read and wrote (/proc/<pid>/io)."""
        try:
            read_bytes, write_bytes = _keyed(self._open.read(path).replace(b": ", b" "), b"read_bytes", b"write_bytes")
        except OSError:
            return None  # exited, or not ours to read (another user's, without CAP_SYS_PTRACE)
        return read_bytes, write_bytes

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
    def _read_v2(files: _Files, read) -> ContainerUsage:
        usage_usec, user_usec, system_usec, periods, throttled, throttled_usec = _keyed(
            read(files.cpu), b"usage_usec", b"user_usec", b"system_usec", b"nr_periods", b"nr_throttled",
            b"throttled_usec")
        usage = ContainerUsage(
            cpu_seconds=usage_usec / 1e6, user_seconds=user_usec / 1e6, system_seconds=system_usec / 1e6,
            periods=periods, throttled_periods=throttled, throttled_seconds=throttled_usec / 1e6,
            memory_bytes=int(read(files.memory)), inactive_file_bytes=_keyed(read(files.memory_stat),
                                                                         b"inactive_file")[0])
        try:
            lines = read(files.io[0]).decode().splitlines()
        except FileNotFoundError:
            lines = []  # the io controller is not enabled for this tree
        for line in lines:
            device, *pairs = line.split()
            values = dict(pair.split("=", 1) for pair in pairs)
            usage.io[(device, "read")] = (int(values.get("rbytes", 0)), int(values.get("rios", 0)))
            usage.io[(device, "write")] = (int(values.get("wbytes", 0)), int(values.get("wios", 0)))
        return usage

    @staticmethod
    def _read_v1(files: _Files, quota: bool, read) -> ContainerUsage:
        user, system = _keyed(read(files.ticks), b"user", b"system")
        periods, throttled, throttled_ns = _keyed(read(files.throttling), b"nr_periods", b"nr_throttled",
                                                  b"throttled_time") if quota else (0, 0, 0)
        usage = ContainerUsage(
            cpu_seconds=int(read(files.cpu)) / 1e9, user_seconds=user / _USER_HZ, system_seconds=system / _USER_HZ,
            periods=periods, throttled_periods=throttled, throttled_seconds=throttled_ns / 1e9,
            memory_bytes=int(read(files.memory)),
            inactive_file_bytes=_keyed(read(files.memory_stat), b"total_inactive_file")[0])
        served = _blkio_v1(read(files.io[0])) if files.io else {}
        if served:  # and the operations from the file beside it
            operations = _blkio_v1(read(files.io[0].replace("io_service_bytes", "io_serviced")))
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
