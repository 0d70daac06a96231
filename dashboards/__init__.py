"""Grafana dashboards generated from Python, and their provisioning files.

    >>> from modelwatch.core.config import Config
    >>> sorted(dashboard_files(Config()))[0]
    'modelwatch-alerts.json'

``dashboards/generated/`` holds the JSON and provisioning for the default
configuration (compose and Kubernetes use it; a test fails when it is stale);
``modelwatch dashboards --out DIR`` writes them for yours.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from modelwatch.dashboards import alerts, autoscaling, model, resources, service
from modelwatch.dashboards.panels import to_json
from modelwatch.core.config import Config

GENERATED_DIR = Path(__file__).parent / "generated"
MODULES: tuple[ModuleType, ...] = (service, model, resources, autoscaling, alerts)


def dashboard_files(config: Config) -> dict[str, dict]:
    """File name (``<uid>.json``) -> dashboard JSON."""
    return {f"{module.UID}.json": to_json(module.build(config)) for module in MODULES}


def render(board: dict) -> str:
    return json.dumps(board, indent=2, sort_keys=True) + "\n"
