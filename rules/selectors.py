"""Label selectors and constants the rule modules share, all from the one configuration."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.utils import floatToGoString

from modelwatch.models.baselines import bucket_label
from modelwatch.core.config import Config

# Live and reference shares are floored at this before PSI's logarithm (as
# Evidently does), so an empty bucket costs a bounded amount instead of infinity.
PSI_FLOOR = 1e-4


def number(value: float) -> str:
    """A threshold as PromQL text, without float noise (1 - 0.999 -> 0.001)."""
    return f"{value:.10g}"


@dataclass(frozen=True)
class Selectors:
    config: Config

    @property
    def service(self) -> str:
        return f'job="{self.config.alerts.service_job}"'

    @property
    def exporter(self) -> str:
        return f'job="{self.config.alerts.exporter_job}"'

    @property
    def api(self) -> str:
        """The requests the SLOs and per-job figures cover: the model API's routes."""
        return f'{self.service}, http_route=~"{self.config.slo.route_regex}"'

    @property
    def process_group(self) -> str:
        return f'groupname="{self.config.exporter.process_groupname}"'

    @property
    def compose_replica(self) -> str:
        return f'container_label_com_docker_compose_service="{self.config.alerts.replica_container}"'

    @property
    def pod_replica(self) -> str:
        return f'container="{self.config.alerts.replica_container}"'

    @property
    def latency_le(self) -> str:
        """The SLO latency threshold as the service histogram's ``le`` label value."""
        return floatToGoString(self.config.slo.latency_threshold_seconds)

    @property
    def bucket_labels(self) -> list[str]:
        """Feature bucket labels of the data baseline: below range, the quantile buckets, above range."""
        return [bucket_label(i) for i in range(self.config.model.feature_buckets + 2)]
