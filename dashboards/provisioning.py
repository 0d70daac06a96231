"""Grafana provisioning: the Prometheus datasource (the stable uid every panel
uses) and a file provider for the dashboards folder."""

from __future__ import annotations

from pathlib import Path

from modelwatch.dashboards import dashboard_files, render
from modelwatch.dashboards.panels import DATASOURCE
from modelwatch.core.config import Config
from modelwatch.core.yaml_text import generated_header, to_yaml

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


def provisioning_files(config: Config, prometheus_url: str | None = None,
                       dashboards_path: str = DASHBOARDS_PATH) -> dict[Path, str]:
    """dashboards/*.json, provisioning/datasources/modelwatch.yaml and
    provisioning/dashboards/modelwatch.yaml (relative paths) -> text."""
    url = prometheus_url or f"http://{config.prometheus.host}:{config.prometheus.port}"
    files = {Path("dashboards") / name: render(board) for name, board in dashboard_files(config).items()}
    for kind, document in (("datasources", datasource(url, config.prometheus.scrape_interval_seconds)),
                           ("dashboards", provider(dashboards_path))):
        files[Path("provisioning") / kind / "modelwatch.yaml"] = generated_header("dashboards/provisioning.py") + to_yaml(document)
    return files


def write(config: Config, out: Path, prometheus_url: str | None = None, dashboards_path: str = DASHBOARDS_PATH) -> list[Path]:
    """The provisioning files below ``out``; dashboards no longer generated are removed."""
    files = provisioning_files(config, prometheus_url, dashboards_path)
    for stale in (out / "dashboards").glob("*.json"):
        if stale.relative_to(out) not in files:
            stale.unlink()
    written = []
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
