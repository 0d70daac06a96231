"""The table of collectors: name -> how to build it, and what it reports.

Adding a collector is one module with a class whose ``collect()`` yields
``*MetricFamily`` objects, and one row here.
"""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple, Protocol

from prometheus_client.metrics_core import Metric

from modelwatch.core.config import Config


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]: ...


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

    return DockerCollector(config.exporter.docker_label_filter)


def _kubernetes(config: Config) -> Collector:
    from modelwatch.exporter.collectors.kubernetes import KubernetesCollector, connect_from_environment
    from modelwatch.core.errors import ConfigError

    try:
        api_client = connect_from_environment()  # reads the configuration; contacts nothing yet
    except Exception as exc:
        raise ConfigError(f"kubernetes collector: no in-cluster configuration and no usable kubeconfig ({exc})") from None
    return KubernetesCollector(config.exporter.kubernetes_namespace_list, config.exporter.kubernetes_refresh_seconds,
                               lambda: api_client)


COLLECTORS: dict[str, CollectorInfo] = {
    "baseline": CollectorInfo(_baseline, "data baselines of the deployed model versions"),
    "host": CollectorInfo(_host, "CPU, memory, filesystems, disks, network, load (node_exporter names)"),
    "process": CollectorInfo(_process, "the model service's master and workers (process-exporter names)"),
    "docker": CollectorInfo(_docker, "running containers from the Docker engine (cAdvisor names)"),
    "kubernetes": CollectorInfo(_kubernetes, "deployments, pods, HPAs, nodes (kube-state-metrics names) and usage"),
    "probe": CollectorInfo(_probe, "a synthetic client checking the API's answers (needs exporter.probe_key)"),
}
