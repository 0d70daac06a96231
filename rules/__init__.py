"""Prometheus rules generated from the one configuration, one file per concern,
and the Prometheus and Alertmanager configuration they run in.

    >>> from modelwatch.core.config import Config
    >>> sorted(rule_files(Config()))[:2]
    ['anomaly.rules.yml', 'baseline.rules.yml']

``rules/generated/`` holds the files for the default configuration (compose and
Kubernetes use them; ``modelwatch generate`` writes them, and a test fails when
they are stale); ``modelwatch rules`` writes them for yours.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from modelwatch.core.config import Config
from modelwatch.core.yaml_text import generated_header
from modelwatch.rules import anomaly, baseline, canary, drift, platform, quality, resources, service, slo
from modelwatch.rules.builder import Alert, Group, rule_file_yaml
from modelwatch.rules.selectors import Selectors

GENERATED_DIR = Path(__file__).parent / "generated"

# File name -> the module that builds its groups. Order matters only for reading.
MODULES: dict[str, ModuleType] = {
    "service.rules.yml": service,
    "slo.rules.yml": slo,
    "anomaly.rules.yml": anomaly,
    "resources.rules.yml": resources,
    "baseline.rules.yml": baseline,
    "canary.rules.yml": canary,
    "drift.rules.yml": drift,
    "quality.rules.yml": quality,
    "platform.rules.yml": platform,
}


def rule_groups(config: Config) -> dict[str, list[Group]]:
    selectors = Selectors(config)
    return {name: module.groups(selectors) for name, module in MODULES.items()}


def rule_files(config: Config) -> dict[str, str]:
    """File name -> YAML text of every rule file."""
    return {
        name: generated_header(f"rules/{MODULES[name].__name__.rsplit('.', 1)[1]}.py") + rule_file_yaml(groups, config.alerts.runbook_url)
        for name, groups in rule_groups(config).items()
    }


def alerts(config: Config) -> list[Alert]:
    return [
        rule for groups in rule_groups(config).values() for group in groups for rule in group.rules
        if isinstance(rule, Alert)
    ]


def write_rule_files(config: Config, directory: Path) -> list[Path]:
    """Write every rule file into ``directory``, removing rule files no longer generated."""
    directory.mkdir(parents=True, exist_ok=True)
    files = rule_files(config)
    for stale in directory.glob("*.rules.yml"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written
