"""The host collector against what /proc says on this machine, and on recorded values."""

from __future__ import annotations

import os
from types import SimpleNamespace

import psutil
import pytest
from prometheus_client import CollectorRegistry

from modelwatch.exporter.collectors.host import HostCollector

USER_HZ = os.sysconf("SC_CLK_TCK")


def collected(collector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def proc_cpu0_user() -> float:
    for line in open("/proc/stat"):
        if line.startswith("cpu0 "):
            return int(line.split()[1]) / USER_HZ
    raise AssertionError("no cpu0 in /proc/stat")


def proc_net(device: str) -> int:
    for line in open("/proc/net/dev"):
        name, _, rest = line.partition(":")
        if name.strip() == device:
            return int(rest.split()[0])
    raise AssertionError(f"no {device} in /proc/net/dev")


def test_matches_proc_on_this_machine():
    registry = collected(HostCollector())
    cpu_before, lo_before = proc_cpu0_user(), proc_net("lo")
    # collect() runs at each get_sample_value: bracket each value by /proc readings around it
    cpu = registry.get_sample_value("node_cpu_seconds_total", {"cpu": "0", "mode": "user"})
    lo = registry.get_sample_value("node_network_receive_bytes_total", {"device": "lo"})
    assert cpu_before - 0.01 <= cpu <= proc_cpu0_user() + 0.01
    assert lo_before <= lo <= proc_net("lo")
    meminfo = dict(line.split(":") for line in open("/proc/meminfo"))
    assert registry.get_sample_value("node_memory_MemTotal_bytes") == int(meminfo["MemTotal"].split()[0]) * 1024
    root = os.statvfs("/")
    mount = next(p for p in psutil.disk_partitions() if p.mountpoint == "/")
    labels = {"device": mount.device, "mountpoint": "/", "fstype": mount.fstype}
    assert registry.get_sample_value("node_filesystem_size_bytes", labels) == root.f_blocks * root.f_frsize
    load1 = float(open("/proc/loadavg").read().split()[0])
    assert registry.get_sample_value("node_load1") == pytest.approx(load1, abs=1.0)
    btime = next(int(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime"))
    assert registry.get_sample_value("node_boot_time_seconds") == pytest.approx(btime, abs=2)


def test_disk_counters_follow_proc_diskstats():
    registry = collected(HostCollector())
    devices = {line.split()[2]: int(line.split()[5]) * 512 for line in open("/proc/diskstats")}
    reported = {s.labels["device"]: s.value for f in registry.collect() for s in f.samples
                if s.name == "node_disk_read_bytes_total"}
    assert reported, "no disk reported"
    for device, value in reported.items():
        assert devices[device] <= value  # read bytes only grow
        assert not device.startswith(("loop", "ram", "zram"))


class RecordedPsutil:
    """psutil answers recorded from a machine: partitions, milliseconds and all."""

    def cpu_times(self, percpu):
        fields = dict(user=10.0, nice=0.5, system=3.0, idle=100.0, iowait=1.0, irq=0.0, softirq=0.2, steal=0.0,
                      guest=4.0, guest_nice=0.0)
        return [SimpleNamespace(**fields), SimpleNamespace(**fields)]

    def virtual_memory(self):
        return SimpleNamespace(total=8 << 30, available=6 << 30, free=2 << 30, buffers=1 << 20, cached=3 << 30)

    def swap_memory(self):
        return SimpleNamespace(total=1 << 30, free=1 << 29)

    def disk_partitions(self, all):
        part = SimpleNamespace
        return [part(device="/dev/sda1", mountpoint="/", fstype="ext4"),
                part(device="proc", mountpoint="/proc", fstype="proc"),
                part(device="overlay", mountpoint="/var/lib/docker/overlay2/x/merged", fstype="overlay"),
                part(device="tmpfs", mountpoint="/run", fstype="tmpfs")]

    def disk_io_counters(self, perdisk, nowrap):
        io = dict(read_bytes=4096, write_bytes=8192, read_count=1, write_count=2, read_time=1500, write_time=250,
                  busy_time=1750)
        return {"sda": SimpleNamespace(**io), "sda1": SimpleNamespace(**io), "loop0": SimpleNamespace(**io)}

    def net_io_counters(self, pernic, nowrap):
        return {"eth0": SimpleNamespace(bytes_recv=1, packets_recv=2, errin=3, dropin=4, bytes_sent=5,
                                        packets_sent=6, errout=7, dropout=8)}

    def boot_time(self):
        return 1_700_000_000.0


def fake_statvfs(path):
    return SimpleNamespace(f_blocks=1000, f_bfree=400, f_bavail=300, f_frsize=4096)


def test_recorded_values_map_to_node_exporter_series():
    registry = collected(HostCollector(RecordedPsutil(), fake_statvfs, lambda: (0.5, 0.25, 0.125)))
    root = {"device": "/dev/sda1", "mountpoint": "/", "fstype": "ext4"}
    assert registry.get_sample_value("node_filesystem_free_bytes", root) == 400 * 4096  # f_bfree
    assert registry.get_sample_value("node_filesystem_avail_bytes", root) == 300 * 4096  # f_bavail
    mounts = {s.labels["mountpoint"] for f in registry.collect() for s in f.samples
              if s.name == "node_filesystem_size_bytes"}
    assert mounts == {"/", "/run"}  # /proc and docker's overlay are left out, as node_exporter does
    assert registry.get_sample_value("node_disk_read_time_seconds_total", {"device": "sda"}) == 1.5
    assert registry.get_sample_value("node_disk_io_time_seconds_total", {"device": "sda"}) == 1.75
    assert registry.get_sample_value("node_disk_read_bytes_total", {"device": "sda1"}) is None  # a partition
    assert registry.get_sample_value("node_cpu_seconds_total", {"cpu": "1", "mode": "softirq"}) == 0.2
    assert registry.get_sample_value("node_cpu_seconds_total", {"cpu": "0", "mode": "guest"}) is None
    assert registry.get_sample_value("node_network_transmit_drop_total", {"device": "eth0"}) == 8
    assert registry.get_sample_value("node_memory_MemAvailable_bytes") == 6 << 30
    assert registry.get_sample_value("node_load15") == 0.125
