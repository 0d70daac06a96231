"""Resources per replica — CPU, memory, disk I/O, network — from the
``modelwatch:replica_*`` records, which give processes (local), compose
containers and pods the same ``replica`` label: one set of panels for all three
runtimes. Plus the host the replicas run on."""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.dashboards.panels import ORANGE, RED, Query, dashboard, rows, stat, steps, timeseries
from modelwatch.dashboards.variables import JOB, service_variables
from modelwatch.core.config import Config

UID = "modelwatch-resources"


def build(config: Config):
    cpu_steps = steps((config.alerts.replica_cpu_saturation_cores * 0.8, ORANGE),
                      (config.alerts.replica_cpu_saturation_cores, RED))
    replicas = [
        stat("Replicas", queries.MODELWATCH_REPLICAS_COUNT, "short",
             description="Locally the gunicorn master counts as one."),
        stat("CPU per API request", queries.MODELWATCH_CPU_SECONDS_PER_REQUEST_RATIO_RATE5M, "s"),
        stat("Memory per replica", queries.MODELWATCH_MEMORY_BYTES_PER_REPLICA_AVG, "bytes"),
        stat("API requests per replica", queries.MODELWATCH_REQUESTS_PER_SECOND_PER_REPLICA_RATE5M, "reqps"),
        timeseries("CPU by replica", Query(queries.MODELWATCH_REPLICA_CPU_SECONDS_RATE5M, "{{replica}}"), "short",
                   thresholds=cpu_steps, show_thresholds=True,
                   description="Cores in use. A Python worker tops out near one core."),
        timeseries("Memory by replica", Query(queries.MODELWATCH_REPLICA_MEMORY_BYTES_SUM, "{{replica}}"), "bytes"),
        timeseries("Disk I/O by replica",
                   [Query(queries.MODELWATCH_REPLICA_READ_BYTES_RATE5M, "{{replica}} read"),
                    Query(queries.MODELWATCH_REPLICA_WRITE_BYTES_RATE5M, "{{replica}} write")], "Bps"),
        timeseries("Network by replica",
                   [Query(queries.MODELWATCH_REPLICA_NETWORK_RECEIVE_BYTES_RATE5M, "{{replica}} in"),
                    Query(queries.MODELWATCH_REPLICA_NETWORK_TRANSMIT_BYTES_RATE5M, "{{replica}} out")], "Bps",
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
                   [Query(f"namedprocess_namegroup_num_procs{{{queries.Selectors(config).process_group}}}",
                          "processes"),
                    Query(f"namedprocess_namegroup_num_threads{{{queries.Selectors(config).process_group}}}",
                          "threads")], "short",
                   description="From the exporter's process collector (local runtime)."),
        timeseries("Service scrape health", [Query(f"up{{{JOB}}}", "{{instance}}")], "short",
                   thresholds=steps((1, "green"), base=RED)),
    ]
    panels = rows(("Replicas", replicas), ("Host", host))
    return dashboard("modelwatch / Resources", UID,
                     "CPU, memory, disk and network per replica, in any runtime, and the host.",
                     panels, service_variables())
