"""Resources per replica — CPU, memory, disk I/O, network — from the
``modelwatch:replica_*`` records, which give processes (local), compose
containers and pods the same ``replica`` label: one set of panels for all three
runtimes. Plus the host the replicas run on."""

from __future__ import annotations

from modelwatch.dashboards.panels import ORANGE, RED, Query, dashboard, rows, stat, steps, timeseries
from modelwatch.dashboards.variables import JOB, service_variables
from modelwatch.core.config import Config

UID = "modelwatch-resources"


def build(config: Config):
    cpu_steps = steps((config.alerts.replica_cpu_saturation_cores * 0.8, ORANGE),
                      (config.alerts.replica_cpu_saturation_cores, RED))
    replicas = [
        stat("Replicas", "modelwatch:replicas:count", "short",
             description="Locally the gunicorn master counts as one."),
        stat("CPU per API request", "modelwatch:cpu_seconds_per_request:ratio_rate5m", "s"),
        stat("Memory per replica", "modelwatch:memory_bytes_per_replica:avg", "bytes"),
        stat("API requests per replica", "modelwatch:requests_per_second_per_replica:rate5m", "reqps"),
        timeseries("CPU by replica", Query("modelwatch:replica_cpu_seconds:rate5m", "{{replica}}"), "short",
                   thresholds=cpu_steps, show_thresholds=True,
                   description="Cores in use. A Python worker tops out near one core."),
        timeseries("Memory by replica", Query("modelwatch:replica_memory_bytes:sum", "{{replica}}"), "bytes"),
        timeseries("Disk I/O by replica",
                   [Query("modelwatch:replica_read_bytes:rate5m", "{{replica}} read"),
                    Query("modelwatch:replica_write_bytes:rate5m", "{{replica}} write")], "Bps"),
        timeseries("Network by replica",
                   [Query("modelwatch:replica_network_receive_bytes:rate5m", "{{replica}} in"),
                    Query("modelwatch:replica_network_transmit_bytes:rate5m", "{{replica}} out")], "Bps",
                   description="Containers and pods per replica; processes share the host's network (\"host\")."),
    ]
    host = [
        stat("Host CPU busy", '1 - avg(rate(node_cpu_seconds_total{mode="idle"}[$__rate_interval]))', "percentunit",
             thresholds=steps((0.7, ORANGE), (0.9, RED))),
        stat("Host memory available", "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "percentunit",
             thresholds=steps((0.1, ORANGE), (0.2, "green"), base=RED)),
        stat("Load (1 min)", "node_load1", "short"),
        stat("Fullest filesystem", "max(1 - node_filesystem_avail_bytes / node_filesystem_size_bytes)", "percentunit",
             thresholds=steps((0.85, ORANGE), (0.9, RED))),
        timeseries("Host CPU by mode", Query("sum by (mode) (rate(node_cpu_seconds_total{mode!=\"idle\"}"
                                             "[$__rate_interval]))", "{{mode}}"), "short", stack=True),
        timeseries("Disk I/O by device",
                   [Query("rate(node_disk_read_bytes_total[$__rate_interval])", "{{device}} read"),
                    Query("rate(node_disk_written_bytes_total[$__rate_interval])", "{{device}} write")], "Bps"),
        timeseries("Service processes",
                   [Query(f'namedprocess_namegroup_num_procs{{groupname="{config.exporter.process_groupname}"}}',
                          "processes"),
                    Query(f'namedprocess_namegroup_num_threads{{groupname="{config.exporter.process_groupname}"}}',
                          "threads")], "short",
                   description="From the exporter's process collector (local runtime)."),
        timeseries("Service scrape health", [Query(f"up{{{JOB}}}", "{{instance}}")], "short",
                   thresholds=steps((1, "green"), base=RED)),
    ]
    panels = rows(("Replicas", replicas), ("Host", host))
    return dashboard("modelwatch / Resources", UID,
                     "CPU, memory, disk and network per replica, in any runtime, and the host.",
                     panels, service_variables())
