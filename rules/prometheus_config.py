"""prometheus.yml for the local runtime: scrape the service, the exporter,
Prometheus and Alertmanager on loopback, load the generated rules, send alerts
to the local Alertmanager. Job names are the ones the rules select on."""

from __future__ import annotations

from pathlib import Path

from modelwatch.core.config import Config
from modelwatch.core.files import write_atomically
from modelwatch.core.runtimes import RUNTIMES
from modelwatch.core.yaml_text import to_yaml
from modelwatch.rules.builder import duration

AUTOSCALER_JOB = "modelwatch-autoscaler"
EDGE_JOB = "modelwatch-edge"  # HAProxy in front of the local service


def scrape_job(name: str, target: str, **extra) -> dict:
    return {"job_name": name, "static_configs": [{"targets": [target]}], **extra}


def service_job(config: Config, runtime: str) -> dict:
    """The model service's scrape job in ``runtime``."""
    return {"job_name": config.alerts.service_job, **RUNTIMES[runtime].service_scrape(config)}


def exporter_job(config: Config, target: str) -> dict:
    """The exporter's scrape job."""
    return scrape_job(config.alerts.exporter_job, target)


def prometheus_config(config: Config, rule_dir: Path, extra_jobs: list[dict] | None = None) -> dict:
    prom = config.prometheus
    service = service_job(config, "local")
    if config.service.metrics_token:
        service["authorization"] = {"type": "Bearer", "credentials": config.service.metrics_token}
    return {
        "global": {
            "scrape_interval": duration(prom.scrape_interval_seconds),
            "evaluation_interval": duration(prom.evaluation_interval_seconds),
            # Never longer than the interval: Prometheus refuses a timeout above it.
            "scrape_timeout": duration(min(10.0, prom.scrape_interval_seconds)),
        },
        "rule_files": [str(rule_dir / "*.rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"{prom.host}:{prom.alertmanager_port}"]}]}]},
        "scrape_configs": [
            service,
            exporter_job(config, f"{config.exporter.host}:{config.exporter.port}"),
            scrape_job("prometheus", f"{prom.host}:{prom.port}"),
            scrape_job("alertmanager", f"{prom.host}:{prom.alertmanager_port}"),
            scrape_job(AUTOSCALER_JOB, f"{config.autoscaler.host}:{config.autoscaler.port}"),
            *([scrape_job(EDGE_JOB, f"{config.service.host}:{config.edge.metrics_port}")] if config.edge.enabled else []),
            *(extra_jobs or []),
        ],
    }


def write_prometheus_config(config: Config, path: Path, rule_dir: Path, extra_jobs: list[dict] | None = None) -> Path:
    return write_atomically(path, to_yaml(prometheus_config(config, rule_dir, extra_jobs)))  # it may hold the token
