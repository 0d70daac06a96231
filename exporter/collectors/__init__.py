"""The table of collectors: name -> how to build it, and what it reports.

Adding a collector is one module with a class whose ``collect()`` yields
``*MetricFamily`` objects, and one row here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Protocol

from prometheus_client.metrics_core import Metric

from modelwatch.core.config import Config


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]: ...


class StaleCollection(Exception):
    """The backend failed, but the collector's cached metrics are still worth serving
    (they carry their own age series): the scrape reports success 0 and serves them.

    Any other exception serves nothing: series from a dead backend repeated as if
    current would look alive (a stopped Docker daemon's containers, forever)."""

    def __init__(self, cause: Exception, metrics: list[Metric]):
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause
        self.metrics = metrics


class CollectorInfo(NamedTuple):
    build: Callable[[Config], Collector]
    help: str


def _baseline(config: Config) -> Collector:
    from modelwatch.exporter.collectors.baseline import BaselineCollector

    return BaselineCollector(config.paths.registry_dir)  # every registered model


def _host(config: Config) -> Collector:
    from modelwatch.exporter.collectors.host import HostCollector

    return HostCollector()


def _process(config: Config) -> Collector:
    from modelwatch.exporter.collectors.process import ProcessCollector

    return ProcessCollector(
        config.exporter.process_groupname, config.paths.service_pid_file, config.exporter.process_pattern
    )


def _probe(config: Config) -> Collector:
    from modelwatch.exporter.collectors.probe import ProbeCollector
    from modelwatch.models.registry import Registry
    from modelwatch.core.errors import ConfigError

    if not config.exporter.probe_key:
        raise ConfigError("exporter.probe_key: the probe collector needs an API key (modelwatch keys add probe)")
    return ProbeCollector(config.exporter.probe_url, config.exporter.probe_key,
                          Registry(config.paths.registry_dir, config.model.name),
                          config.exporter.probe_interval_seconds, config.exporter.probe_timeout_seconds)


def _docker(config: Config) -> Collector:
    from modelwatch.exporter.collectors.docker import DockerCollector

    settings = config.exporter
    return DockerCollector(settings.docker_label_filter, cgroup_root=Path(settings.cgroup_root),
                           proc=Path(settings.proc_root), refresh_seconds=settings.docker_refresh_seconds)


def _kubernetes(config: Config) -> Collector:
    from modelwatch.exporter.collectors.kubernetes import KubernetesCollector, connect_from_environment
    from modelwatch.core.errors import ConfigError

    try:
        api_client = connect_from_environment()  # reads the configuration; contacts nothing yet
    except Exception as exc:
        raise ConfigError(f"kubernetes collector: no in-cluster configuration and no usable kubeconfig ({exc})") from None
    exporter = config.exporter
    return KubernetesCollector(exporter.kubernetes_namespace_list, exporter.kubernetes_refresh_seconds,
                               lambda: api_client, exporter.kubernetes_request_timeout_seconds,
                               exporter.kubernetes_list_page_size)


COLLECTORS: dict[str, CollectorInfo] = {
    "baseline": CollectorInfo(_baseline, "data baselines of the deployed model versions"),
    "host": CollectorInfo(_host, "CPU, memory, filesystems, disks, network, load (node_exporter names)"),
    "process": CollectorInfo(_process, "the model service's master and workers (process-exporter names)"),
    "docker": CollectorInfo(_docker, "running containers from the Docker engine (cAdvisor names)"),
    "kubernetes": CollectorInfo(_kubernetes, "deployments, pods, HPAs, nodes (kube-state-metrics names) and usage"),
    "probe": CollectorInfo(_probe, "a synthetic client checking the API's answers (needs exporter.probe_key)"),
}
