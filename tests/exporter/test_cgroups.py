"""Reading a container's counters from cgroup files laid out as the kernel
does (v2 unified, v1 per controller; cgroupfs and systemd drivers), and what
happens when they are missing, vanish mid-read or hold the unexpected.
The real engine's values are compared in test_docker.py."""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path

import pytest

from modelwatch.exporter.collectors.cgroups import CgroupGone, CgroupReader, OpenFiles

ID = "3f2a" + "0" * 60
NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    5000      40    1    2    0     0          0         0     7000      50    3    4    0     0       0          0
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def proc_for(tmp_path: Path, pid: int, cgroup_lines: str, net_namespace: str = "net:[4026532000]") -> Path:
    proc = tmp_path / "proc"
    write(proc / str(pid) / "cgroup", cgroup_lines)
    write(proc / str(pid) / "net" / "dev", NET_DEV)
    (proc / "1" / "ns").mkdir(parents=True, exist_ok=True)
    (proc / str(pid) / "ns").mkdir(parents=True, exist_ok=True)
    if not (proc / "1" / "ns" / "net").is_symlink():
        os.symlink("net:[4026531992]", proc / "1" / "ns" / "net")
    os.symlink(net_namespace, proc / str(pid) / "ns" / "net")
    return proc


def v2_tree(root: Path, path: str) -> None:
    write(root / "cgroup.controllers", "cpu io memory pids\n")
    folder = root / path
    write(folder / "cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n"
                               "nr_periods 10\nnr_throttled 3\nthrottled_usec 1500\n")
    write(folder / "memory.current", "104857600\n")
    write(folder / "memory.stat", "anon 1000\nfile 2000\ninactive_file 4194304\nactive_file 1\n")
    write(folder / "io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n")


def v1_tree(root: Path, path: str, blkio: dict[str, str]) -> None:
    write(root / "cpuacct" / path / "cpuacct.usage", "3250000000\n")
    write(root / "cpuacct" / path / "cpuacct.stat", f"user {3 * os.sysconf('SC_CLK_TCK')}\nsystem 0\n")
    write(root / "cpu" / path / "cpu.stat", "nr_periods 7\nnr_throttled 2\nthrottled_time 5000000000\n")
    write(root / "memory" / path / "memory.usage_in_bytes", "2125824\n")
    write(root / "memory" / path / "memory.stat", "cache 1671168\ninactive_file 9\ntotal_inactive_file 1589248\n")
    for name, text in blkio.items():
        write(root / "blkio" / path / name, text)


def test_v2_systemd_driver_found_from_the_process_record(tmp_path):
    root = tmp_path / "cgroup"
    v2_tree(root, f"system.slice/docker-{ID}.scope")
    proc = proc_for(tmp_path, 42, f"0::/system.slice/docker-{ID}.scope\n")
    usage = CgroupReader(root, proc).usage(ID, 42)
    assert (usage.cpu_seconds, usage.user_seconds, usage.system_seconds) == (2.5, 2.0, 0.5)
    assert (usage.periods, usage.throttled_periods, usage.throttled_seconds) == (10, 3, 0.0015)
    assert (usage.memory_bytes, usage.inactive_file_bytes) == (100 * 2**20, 4 * 2**20)
    assert usage.io == {("8:0", "read"): (4096, 1), ("8:0", "write"): (8192, 2)}
    assert usage.network == {"eth0": (5000, 40, 1, 2, 7000, 50, 3, 4)}  # never the loopback


def test_v2_found_by_its_usual_name_when_the_record_is_relative_to_another_namespace(tmp_path):
    root = tmp_path / "cgroup"
    v2_tree(root, f"docker/{ID}")
    proc = proc_for(tmp_path, 42, "0::/../../docker/" + ID + "\n")  # read from inside a cgroup namespace
    assert CgroupReader(root, proc).usage(ID, 42).cpu_seconds == 2.5


def test_v1_cgroupfs_driver_reads_the_throttle_layer_else_the_scheduler_s_files(tmp_path):
    root = tmp_path / "cgroup"
    throttle = {"blkio.throttle.io_service_bytes_recursive": "8:0 Read 10\n8:0 Write 20\n8:0 Total 30\nTotal 30\n",
                "blkio.throttle.io_serviced_recursive": "8:0 Read 1\n8:0 Write 2\n"}
    v1_tree(root, f"docker/{ID}", {**throttle, "blkio.bfq.io_service_bytes_recursive": "8:0 Read 9\n",
                                   "blkio.bfq.io_serviced_recursive": "8:0 Read 1\n"})
    proc = proc_for(tmp_path, 42, "".join(f"{n}:{c}:/docker/{ID}\n" for n, c in
                                          enumerate(("cpu", "cpuacct", "memory", "blkio", "name=systemd"))))
    usage = CgroupReader(root, proc).usage(ID, 42)
    assert usage.cpu_seconds == pytest.approx(3.25) and usage.user_seconds == 3.0 and usage.system_seconds == 0
    assert (usage.periods, usage.throttled_periods, usage.throttled_seconds) == (7, 2, 5.0)
    assert (usage.memory_bytes, usage.inactive_file_bytes) == (2125824, 1589248)  # the hierarchy's total
    assert usage.io == {("8:0", "read"): (10, 1), ("8:0", "write"): (20, 2)}  # totals left out

    for name in throttle:  # a kernel without the throttle layer: the scheduler's (here BFQ's) files
        (root / "blkio" / f"docker/{ID}" / name).unlink()
    assert CgroupReader(root, proc).usage(ID, 42).io == {("8:0", "read"): (9, 1)}


def test_a_container_on_the_host_network_reports_no_interfaces(tmp_path):
    root = tmp_path / "cgroup"
    v2_tree(root, f"docker/{ID}")
    proc = proc_for(tmp_path, 42, f"0::/docker/{ID}\n", net_namespace="net:[4026531992]")  # the host's (pid 1)
    assert CgroupReader(root, proc).usage(ID, 42).network == {}


def test_missing_vanishing_and_odd_files(tmp_path, monkeypatch):
    root = tmp_path / "cgroup"
    (root / "cgroup.controllers").parent.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory\n")
    proc = proc_for(tmp_path, 42, f"0::/docker/{ID}\n")
    reader = CgroupReader(root, proc)
    assert reader.usage(ID, 42) is None  # no cgroup at all (not mounted here)
    assert reader.usage(ID, 0) is None  # no pid known yet

    v2_tree(root, f"docker/{ID}")
    (root / f"docker/{ID}" / "io.stat").unlink()  # the io controller not enabled: no block I/O, the rest still read
    (root / f"docker/{ID}" / "cpu.stat").write_text("usage_usec 5\nsome_new_key max\n\n")
    usage = reader.usage(ID, 42)
    assert usage.cpu_seconds == 5e-6 and usage.io == {}

    # the container stopped between two reads: its open file answers as the kernel's do for a removed cgroup
    gone = str(root / f"docker/{ID}" / "memory.current")
    real_pread = os.pread

    def pread(fd, size, offset):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(gone):  # "... (deleted)"
            raise OSError(errno.ENODEV, "No such device")
        return real_pread(fd, size, offset)

    monkeypatch.setattr("modelwatch.exporter.collectors.cgroups.os.pread", pread)
    (root / f"docker/{ID}" / "memory.current").unlink()
    with pytest.raises(CgroupGone):
        reader.usage(ID, 42)
    assert len(reader._open) == 0  # its files closed
    monkeypatch.undo()
    assert reader.usage(ID, 42) is None  # and after that, simply not found
    v2_tree(root, f"docker/{ID}")  # and is found again once it is back
    assert reader.usage(ID, 42).memory_bytes == 100 * 2**20

    (proc / "42" / "net" / "dev").unlink()  # the process is gone: counters still, interfaces none
    assert reader.usage(ID, 42).network == {}


def test_open_files_are_read_afresh_and_a_removed_cgroup_s_read_says_gone_on_this_kernel(tmp_path):
    """What the reader relies on, checked against the running kernel: a file held open and read
    again from offset 0 has new values, and a removed cgroup's open file answers FileNotFoundError."""
    files = OpenFiles()
    before = files.read("/proc/self/io")
    (tmp_path / "written").write_bytes(b"x" * 100_000)
    assert files.read("/proc/self/io") != before and len(files) == 1

    unified = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    cgroup = Path("/sys/fs/cgroup") / ("" if unified else "memory") / f"modelwatch-test-{uuid.uuid4().hex[:8]}"
    try:
        cgroup.mkdir()
    except OSError as exc:
        pytest.skip(f"cannot make a cgroup here: {exc}")
    usage = str(cgroup / ("memory.current" if unified else "memory.usage_in_bytes"))
    try:
        assert files.read(usage).strip().isdigit()
    finally:
        cgroup.rmdir()
    with pytest.raises(FileNotFoundError):
        files.read(usage)
    assert len(files) == 1  # the removed cgroup's file closed


def test_at_most_the_budget_of_files_is_held_and_forgotten_containers_close_theirs(tmp_path):
    paths = []
    for n in range(5):
        paths.append(tmp_path / f"f{n}")
        paths[-1].write_text(f"{n}\n")
    files = OpenFiles(budget=2)
    assert [files.read(str(p)) for p in paths] == [f"{n}\n".encode() for n in range(5)] and len(files) == 2

    root = tmp_path / "cgroup"
    for n in range(3):
        v2_tree(root, f"docker/{n:064x}")
    reader = CgroupReader(root, tmp_path / "proc")
    for n in range(3):
        assert reader.usage(f"{n:064x}", 0) is not None
    held = len(reader._open)
    assert held == 3 * 4  # cpu.stat, memory.current, memory.stat, io.stat each
    reader.forget({f"{0:064x}"})
    assert len(reader._open) == 4
    descriptors = len(os.listdir("/proc/self/fd"))
    for _ in range(50):  # scrapes of a container that keeps coming and going hold no more
        reader.usage(f"{1:064x}", 0)
        reader.forget({f"{0:064x}"})
    assert len(os.listdir("/proc/self/fd")) <= descriptors
