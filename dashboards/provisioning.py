"""Grafana provisioning: the Prometheus datasource (the stable uid every panel
uses) and a file provider for the dashboards folder."""

from __future__ import annotations

from pathlib import Path

from modelwatch.dashboards import dashboard_files, render
from modelwatch.dashboards.panels import DATASOURCE
from modelwatch.core.config import Config
from modelwatch.core.yaml_text import to_yaml

DASHBOARDS_PATH = "/var/lib/grafana/dashboards/modelwatch"


def datasource(prometheus_url: str, scrape_interval_seconds: float) -> dict:
    return {
        "apiVersion": 1,
        "prune": True,
        "datasources": [{
            "name": "Prometheus",
            "type": DATASOURCE["type"],
            "uid": DATASOURCE["uid"],
            "access": "proxy",
            "url": prometheus_url,
            "isDefault": True,
            # Grafana's $__rate_interval is four times this: keep it equal to the scrape interval.
            "jsonData": {"timeInterval": f"{scrape_interval_seconds:g}s", "httpMethod": "POST"},
            "editable": False,
        }],
    }


def provider(path: str = DASHBOARDS_PATH) -> dict:
    return {
        "apiVersion": 1,
        "providers": [{
            "name": "modelwatch",
            "orgId": 1,
            "folder": "modelwatch",
            "type": "file",
            "disableDeletion": False,
            "updateIntervalSeconds": 30,
            "allowUiUpdates": False,
            "options": {"path": path},
        }],
    }


def write(config: Config, out: Path, prometheus_url: str | None = None, dashboards_path: str = DASHBOARDS_PATH) -> list[Path]:
    """out/dashboards/*.json, out/provisioning/datasources/modelwatch.yaml, out/provisioning/dashboards/modelwatch.yaml."""
    url = prometheus_url or f"http://{config.prometheus.host}:{config.prometheus.port}"
    written = []
    boards = out / "dashboards"
    boards.mkdir(parents=True, exist_ok=True)
    files = dashboard_files(config)
    for stale in boards.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, board in files.items():
        (boards / name).write_text(render(board))
        written.append(boards / name)
    for kind, document in (("datasources", datasource(url, config.prometheus.scrape_interval_seconds)),
                           ("dashboards", provider(dashboards_path))):
        path = out / "provisioning" / kind / "modelwatch.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_yaml(document))
        written.append(path)
    return written
