"""alertmanager.yml: route by severity (critical pages, warning files a
ticket, info goes nowhere), and inhibit the alerts a bigger one explains."""

from __future__ import annotations

from pathlib import Path

from modelwatch.core.config import Config
from modelwatch.core.yaml_text import to_yaml

# Alerts that are consequences of the service being down: while it is, they add noise, not news.
EXPLAINED_BY_SERVICE_DOWN = (
    "ModelwatchReplicaDown", "ModelwatchAvailabilityBudgetBurn", "ModelwatchLatencyBudgetBurn",
    "ModelwatchLatencyAboveBaseline", "ModelwatchErrorRatioAboveBaseline", "ModelwatchRequestRateAnomalous",
    "ModelwatchTrafficStopped", "ModelwatchFeatureDrift", "ModelwatchPredictionMixShift",
    "ModelwatchInputsOutOfRange", "ModelwatchCanaryLatencyHigh", "ModelwatchCanaryErrorRatioHigh",
)
# Without the exporter there are no baselines: their absence is not news either.
EXPLAINED_BY_EXPORTER_DOWN = (
    "ModelwatchPerformanceBaselineMissing", "ModelwatchDataBaselineMissing", "ModelwatchCollectorFailing",
)
# Labels that make two alerts "the same problem" when one is critical and one a warning.
SAME_PROBLEM = [
    "alertname", "job", "instance", "model_name", "model_version", "feature", "statistic", "slo",
    "mountpoint", "namespace", "horizontalpodautoscaler",
]


def _receiver(name: str, url: str) -> dict:
    receiver: dict = {"name": name}
    if url:
        receiver["webhook_configs"] = [{"url": url, "send_resolved": True}]
    return receiver


def _one_of(names: tuple[str, ...]) -> str:
    return f'alertname=~"{"|".join(names)}"'


def alertmanager_config(config: Config) -> dict:
    prom = config.prometheus
    return {
        "route": {
            "receiver": "ticket",
            "group_by": ["alertname", "job", "model_name", "model_version"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"matchers": ['severity="critical"'], "receiver": "page", "repeat_interval": "1h"},
                {"matchers": ['severity="warning"'], "receiver": "ticket"},
                {"matchers": ['severity="info"'], "receiver": "none"},
            ],
        },
        "receivers": [
            _receiver("page", prom.page_webhook_url),
            _receiver("ticket", prom.ticket_webhook_url),
            {"name": "none"},
        ],
        "inhibit_rules": [
            {
                "source_matchers": ['alertname="ModelwatchServiceDown"'],
                "target_matchers": [_one_of(EXPLAINED_BY_SERVICE_DOWN)],
                "equal": ["job"],
            },
            {
                "source_matchers": ['alertname="ModelwatchExporterDown"'],
                "target_matchers": [_one_of(EXPLAINED_BY_EXPORTER_DOWN)],
            },
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity=~"warning|info"'],
                "equal": SAME_PROBLEM,
            },
        ],
    }


def write_alertmanager_config(config: Config, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_yaml(alertmanager_config(config)))
    return path
