"""The model service's processes: the gunicorn master found from its pid file
(or processes whose command line matches a pattern) and all its workers.

Per group, process-exporter's names (``namedprocess_namegroup_*{groupname}``),
so its dashboards work; per process, ``modelwatch_process_*{groupname,pid}``
for per-replica panels. Series are built afresh on every collection, so a
worker that exits disappears from the next scrape.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from modelwatch.core.errors import ModelwatchError
from modelwatch.core.processes import service_master


def _family(kind, name, text, labels):
    return (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, text, labels=labels)


class ProcessCollector:
    def __init__(self, groupname: str, pid_file: Path | None = None, pattern: str = ""):
        self.groupname = groupname
        self.pid_file = Path(pid_file) if pid_file else None
        self.pattern = re.compile(pattern) if pattern else None

    def processes(self) -> list[psutil.Process]:
        """The service's live processes: master, workers and their label processes (empty when it is not running)."""
        found: dict[int, psutil.Process] = {}
        if self.pid_file is not None:
            try:
                master = service_master(self.pid_file)
                found[master.pid] = master
                found.update((child.pid, child) for child in master.children(recursive=True))
            except (ModelwatchError, psutil.NoSuchProcess):
                pass  # not running (or a stale pid file): no series, and the collector still succeeds
        if self.pattern is not None:
            for process in psutil.process_iter(["cmdline"]):
                if self.pattern.search(" ".join(process.info["cmdline"] or [])):
                    found.setdefault(process.pid, process)
        return sorted(found.values(), key=lambda p: p.pid)

    def collect(self) -> Iterable:
        group, per_pid = ["groupname"], ["groupname", "pid"]
        g_cpu = _family("counter", "namedprocess_namegroup_cpu_seconds_total", "CPU seconds of the group by mode.",
                        [*group, "mode"])
        g_mem = _family("gauge", "namedprocess_namegroup_memory_bytes", "Memory of the group by type.",
                        [*group, "memtype"])
        g_read = _family("counter", "namedprocess_namegroup_read_bytes_total", "Bytes read by the group.", group)
        g_write = _family("counter", "namedprocess_namegroup_write_bytes_total", "Bytes written by the group.", group)
        g_procs = _family("gauge", "namedprocess_namegroup_num_procs", "Processes in the group.", group)
        g_threads = _family("gauge", "namedprocess_namegroup_num_threads", "Threads in the group.", group)
        g_fds = _family("gauge", "namedprocess_namegroup_open_filedesc", "Open file descriptors of the group.", group)
        g_oldest = _family("gauge", "namedprocess_namegroup_oldest_start_time_seconds",
                           "Start time of the group's oldest process (Unix time).", group)
        p_cpu = _family("counter", "modelwatch_process_cpu_seconds_total", "CPU seconds of one process by mode.",
                        [*per_pid, "mode"])
        p_rss = _family("gauge", "modelwatch_process_resident_memory_bytes", "Resident memory of one process.", per_pid)
        p_read = _family("counter", "modelwatch_process_read_bytes_total", "Bytes one process read from storage.",
                         per_pid)
        p_write = _family("counter", "modelwatch_process_write_bytes_total", "Bytes one process wrote to storage.",
                          per_pid)
        p_fds = _family("gauge", "modelwatch_process_open_fds", "Open file descriptors of one process.", per_pid)
        p_threads = _family("gauge", "modelwatch_process_threads", "Threads of one process.", per_pid)
        p_start = _family("gauge", "modelwatch_process_start_time_seconds", "Start time of one process (Unix time).",
                          per_pid)
        totals = dict(user=0.0, system=0.0, resident=0, virtual=0, read=0, write=0, threads=0, fds=0, procs=0)
        starts = []
        for process in self.processes():
            try:
                with process.oneshot():
                    cpu, memory = process.cpu_times(), process.memory_info()
                    io, fds = process.io_counters(), process.num_fds()
                    threads, started = process.num_threads(), process.create_time()
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue  # exited while we looked: it is gone from this scrape
            labels = [self.groupname, str(process.pid)]
            p_cpu.add_metric([*labels, "user"], cpu.user)
            p_cpu.add_metric([*labels, "system"], cpu.system)
            p_rss.add_metric(labels, memory.rss)
            p_read.add_metric(labels, io.read_bytes)
            p_write.add_metric(labels, io.write_bytes)
            p_fds.add_metric(labels, fds)
            p_threads.add_metric(labels, threads)
            p_start.add_metric(labels, started)
            for key, value in (("user", cpu.user), ("system", cpu.system), ("resident", memory.rss),
                               ("virtual", memory.vms), ("read", io.read_bytes), ("write", io.write_bytes),
                               ("threads", threads), ("fds", fds), ("procs", 1)):
                totals[key] += value
            starts.append(started)
        name = [self.groupname]
        g_cpu.add_metric([*name, "user"], totals["user"])
        g_cpu.add_metric([*name, "system"], totals["system"])
        g_mem.add_metric([*name, "resident"], totals["resident"])
        g_mem.add_metric([*name, "virtual"], totals["virtual"])
        g_read.add_metric(name, totals["read"])
        g_write.add_metric(name, totals["write"])
        g_procs.add_metric(name, totals["procs"])
        g_threads.add_metric(name, totals["threads"])
        g_fds.add_metric(name, totals["fds"])
        if starts:
            g_oldest.add_metric(name, min(starts))
        return [g_cpu, g_mem, g_read, g_write, g_procs, g_threads, g_fds, g_oldest,
                p_cpu, p_rss, p_read, p_write, p_fds, p_threads, p_start]
