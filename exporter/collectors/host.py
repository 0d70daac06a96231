"""Host metrics from psutil, under node_exporter's exact names and labels, so
dashboards built for node_exporter work unchanged. Switch this collector off
where a real node_exporter scrapes the same host (duplicate series otherwise).

    # HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
    # TYPE node_cpu_seconds_total counter
    node_cpu_seconds_total{cpu="0",mode="user"} 1234.5

psutil traps handled here: ``disk_usage().free`` is f_bavail (node_exporter's
*avail*), so free/avail come from ``os.statvfs``; disk times are milliseconds;
``perdisk=True`` includes partitions, which node_exporter leaves out.
"""

from __future__ import annotations

import os
import re
from typing import Iterable

import psutil as default_psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
# node_exporter's default exclusions (collector/filesystem_linux.go, diskstats_linux.go).
IGNORED_MOUNTS = re.compile(r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)")
IGNORED_FSTYPES = re.compile(
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|"
    r"overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$")
IGNORED_DISKS = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")
MEMORY = (("MemTotal", "total"), ("MemAvailable", "available"), ("MemFree", "free"), ("Buffers", "buffers"),
          ("Cached", "cached"))
NETWORK = (("receive_bytes", "bytes_recv"), ("receive_packets", "packets_recv"), ("receive_errs", "errin"),
           ("receive_drop", "dropin"), ("transmit_bytes", "bytes_sent"), ("transmit_packets", "packets_sent"),
           ("transmit_errs", "errout"), ("transmit_drop", "dropout"))


class HostCollector:
    def __init__(self, psutil=default_psutil, statvfs=os.statvfs, loadavg=os.getloadavg):
        self._psutil = psutil  # injected, so tests can feed recorded values
        self._statvfs = statvfs
        self._loadavg = loadavg

    def collect(self) -> Iterable:
        yield from self._cpu()
        yield from self._memory()
        yield from self._filesystems()
        yield from self._disks()
        yield from self._network()
        loads = self._loadavg()
        for minutes, load in zip((1, 5, 15), loads):
            family = GaugeMetricFamily(f"node_load{minutes}", f"{minutes}m load average.")
            family.add_metric([], load)
            yield family
        boot = GaugeMetricFamily("node_boot_time_seconds", "Node boot time, in unixtime.")
        boot.add_metric([], self._psutil.boot_time())
        yield boot

    def _cpu(self):
        family = CounterMetricFamily("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.",
                                     labels=["cpu", "mode"])
        for cpu, times in enumerate(self._psutil.cpu_times(percpu=True)):
            for mode in CPU_MODES:
                if hasattr(times, mode):
                    family.add_metric([str(cpu), mode], getattr(times, mode))
        yield family

    def _memory(self):
        memory, swap = self._psutil.virtual_memory(), self._psutil.swap_memory()
        for name, field in MEMORY:
            family = GaugeMetricFamily(f"node_memory_{name}_bytes", f"Memory information field {name}_bytes.")
            family.add_metric([], getattr(memory, field))
            yield family
        for name, value in (("SwapTotal", swap.total), ("SwapFree", swap.free)):
            family = GaugeMetricFamily(f"node_memory_{name}_bytes", f"Memory information field {name}_bytes.")
            family.add_metric([], value)
            yield family

    def _filesystems(self):
        labels = ["device", "mountpoint", "fstype"]
        size = GaugeMetricFamily("node_filesystem_size_bytes", "Filesystem size in bytes.", labels=labels)
        free = GaugeMetricFamily("node_filesystem_free_bytes", "Filesystem free space in bytes.", labels=labels)
        avail = GaugeMetricFamily("node_filesystem_avail_bytes",
                                  "Filesystem space available to non-root users in bytes.", labels=labels)
        seen = set()
        for part in self._psutil.disk_partitions(all=True):
            if IGNORED_MOUNTS.match(part.mountpoint) or IGNORED_FSTYPES.match(part.fstype) or part.mountpoint in seen:
                continue
            seen.add(part.mountpoint)
            try:
                stat = self._statvfs(part.mountpoint)
            except OSError:
                continue  # unmounted meanwhile, or not ours to read
            values = [part.device, part.mountpoint, part.fstype]
            size.add_metric(values, stat.f_blocks * stat.f_frsize)
            free.add_metric(values, stat.f_bfree * stat.f_frsize)
            avail.add_metric(values, stat.f_bavail * stat.f_frsize)
        yield from (size, free, avail)

    def _disks(self):
        counters = {
            "read_bytes": ("Bytes read.", "read_bytes", 1),
            "written_bytes": ("Bytes written.", "write_bytes", 1),
            "reads_completed": ("Reads completed.", "read_count", 1),
            "writes_completed": ("Writes completed.", "write_count", 1),
            "read_time_seconds": ("Seconds spent by all reads.", "read_time", 1e-3),
            "write_time_seconds": ("Seconds spent by all writes.", "write_time", 1e-3),
            "io_time_seconds": ("Seconds spent doing I/Os.", "busy_time", 1e-3),
        }
        disks = {name: io for name, io in (self._psutil.disk_io_counters(perdisk=True, nowrap=True) or {}).items()
                 if not IGNORED_DISKS.match(name)}
        for metric, (text, field, scale) in counters.items():
            family = CounterMetricFamily(f"node_disk_{metric}_total", f"The total number of {text.lower()}",
                                         labels=["device"])
            for name, io in sorted(disks.items()):
                if hasattr(io, field):
                    family.add_metric([name], getattr(io, field) * scale)
            yield family

    def _network(self):
        nics = self._psutil.net_io_counters(pernic=True, nowrap=True) or {}
        for metric, field in NETWORK:
            family = CounterMetricFamily(f"node_network_{metric}_total", f"Network device statistic {metric}.",
                                         labels=["device"])
            for name, io in sorted(nics.items()):
                family.add_metric([name], getattr(io, field))
            yield family
