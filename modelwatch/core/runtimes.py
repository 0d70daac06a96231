"""What differs between the runtimes, in one table: how Prometheus finds the
service's replicas, what a replica is and which series describe its resources
(and under which label), and what scales it. Everything else — metrics, rules,
dashboards, the autoscaling query — is the same in all of them.

Adding a runtime is one row here (and, where it needs one, its own module: an
autoscaler backend, a generator for its files).

    >>> from modelwatch.core.config import Config
    >>> RUNTIMES["compose"].service_scrape(Config())["dns_sd_configs"][0]["names"]
    ['model-service']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from modelwatch.core.config import Config

# A replica's resources, by the names the rules use.
RESOURCES = ("cpu_seconds", "memory_bytes", "memory_limit_bytes", "read_bytes", "write_bytes",
             "network_receive_bytes", "network_transmit_bytes")
CADVISOR = {
    "cpu_seconds": "container_cpu_usage_seconds_total",
    "memory_bytes": "container_memory_working_set_bytes",
    "memory_limit_bytes": "container_spec_memory_limit_bytes",
    "read_bytes": "container_fs_reads_bytes_total",
    "write_bytes": "container_fs_writes_bytes_total",
    "network_receive_bytes": "container_network_receive_bytes_total",
    "network_transmit_bytes": "container_network_transmit_bytes_total",
}


@dataclass(frozen=True)
class Runtime:
    name: str
    replica: str  # what one replica is
    # resource -> the series holding it (counters end in _total); a runtime without one leaves it out
    series: dict[str, str]
    replica_label: str  # the label that names the replica in those series
    # the matchers that pick the service's replicas out of those series, per resource where they differ
    replica_selector: Callable[[Config], str]
    resource_selectors: dict[str, Callable[[Config], str]] = field(default_factory=dict)
    # the service job's scrape configuration (None: the Prometheus Operator's ServiceMonitor does it)
    service_scrape: Callable[[Config], dict] | None = None
    autoscaler_backend: str | None = None  # the local autoscaler's backend; None: the cluster's HPA or KEDA

    def selector(self, resource: str, config: Config) -> str:
        return self.resource_selectors.get(resource, self.replica_selector)(config)


COMPOSE_METRICS_PORT = 9102


def _local_scrape(config: Config) -> dict:
    port = config.service.metrics_port or config.service.port
    return {"static_configs": [{"targets": [f"{config.service.host}:{port}"]}]}


def _compose_scrape(config: Config) -> dict:
    # Every replica, each its own target: Docker's DNS answers with all their addresses.
    # The metrics port docker-compose.yml gives the service (its API port 8000 answers /metrics with 404).
    return {"dns_sd_configs": [{"names": ["model-service"], "type": "A", "port": COMPOSE_METRICS_PORT,
                                "refresh_interval": "10s"}]}


RUNTIMES: dict[str, Runtime] = {
    runtime.name: runtime for runtime in (
        Runtime(
            "local", "a gunicorn worker process (the master counts too)",
            series={"cpu_seconds": "modelwatch_process_cpu_seconds_total",
                    "memory_bytes": "modelwatch_process_resident_memory_bytes",
                    "read_bytes": "modelwatch_process_read_bytes_total",
                    "write_bytes": "modelwatch_process_write_bytes_total"},
            replica_label="pid",
            replica_selector=lambda c: f'groupname="{c.exporter.process_groupname}"',
            service_scrape=_local_scrape, autoscaler_backend="workers",
        ),
        Runtime(
            "compose", "a container of the compose service",
            series=CADVISOR, replica_label="name",
            replica_selector=lambda c: f'container_label_com_docker_compose_service="{c.alerts.replica_container}"',
            service_scrape=_compose_scrape, autoscaler_backend="compose",
        ),
        Runtime(
            "kubernetes", "a pod's service container",
            series=CADVISOR, replica_label="pod",
            replica_selector=lambda c: f'container="{c.alerts.replica_container}"',
            # cAdvisor reports a pod's network on the pod, not on its containers.
            resource_selectors={direction: (lambda c: f'pod=~"{c.alerts.replica_container}-.+"')
                                for direction in ("network_receive_bytes", "network_transmit_bytes")},
        ),
    )
}
