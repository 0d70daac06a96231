"""The generated files of the compose deployment: prometheus.yml (every service
replica found through Docker's DNS, the exporter, HAProxy's built-in exporter,
Alertmanager) and alertmanager.yml, from the one configuration."""

from __future__ import annotations

from modelwatch.core.config import Config
from modelwatch.core.yaml_text import generated_header, to_yaml
from modelwatch.rules.alertmanager_config import alertmanager_config
from modelwatch.rules.builder import duration
from modelwatch.rules.prometheus_config import AUTOSCALER_JOB, exporter_job, scrape_job, service_job

HEADER = generated_header("modelwatch/generate/compose.py")


def prometheus_config(config: Config) -> dict:
    prom = config.prometheus
    return {
        "global": {"scrape_interval": duration(prom.scrape_interval_seconds),
                   "evaluation_interval": duration(prom.evaluation_interval_seconds)},
        "rule_files": ["/etc/prometheus/rules/*.rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]},
        "scrape_configs": [
            service_job(config, "compose"),
            exporter_job(config, "exporter:9188"),
            scrape_job("haproxy", "haproxy:8404"),
            scrape_job(AUTOSCALER_JOB, "autoscaler:9189"),
            scrape_job("alertmanager", "alertmanager:9093"),
            scrape_job("prometheus", "localhost:9090"),
        ],
    }


def generated_files(config: Config) -> dict[str, str]:
    return {
        "prometheus.yml": HEADER + to_yaml(prometheus_config(config)),
        "alertmanager.yml": HEADER + to_yaml(alertmanager_config(config)),
    }
