"""The table of collectors: name -> how to build it, and what it reports.

Adding a collector is one module with a class whose ``collect()`` yields
``*MetricFamily`` objects, and one row here.
"""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple, Protocol

from prometheus_client.metrics_core import Metric

from modelwatch.config import Config


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]: ...


class CollectorInfo(NamedTuple):
    build: Callable[[Config], Collector]
    help: str


def _baseline(config: Config) -> Collector:
    from exporter.collectors.baseline import BaselineCollector

    return BaselineCollector(config.paths.registry_dir, config.model.name)


def _host(config: Config) -> Collector:
    from exporter.collectors.host import HostCollector

    return HostCollector()


def _process(config: Config) -> Collector:
    from exporter.collectors.process import ProcessCollector

    return ProcessCollector(
        config.exporter.process_groupname, config.paths.service_pid_file, config.exporter.process_pattern
    )


COLLECTORS: dict[str, CollectorInfo] = {
    "baseline": CollectorInfo(_baseline, "data baselines of the deployed model versions"),
    "host": CollectorInfo(_host, "CPU, memory, filesystems, disks, network, load (node_exporter names)"),
    "process": CollectorInfo(_process, "the model service's master and workers (process-exporter names)"),
}
