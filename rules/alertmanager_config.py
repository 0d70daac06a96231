"""alertmanager.yml: route by severity (critical pages, warning files a
ticket, info goes nowhere), the always-firing watchdog to a dead-man's switch
every minute, and inhibit the alerts a bigger one explains."""

from __future__ import annotations

from pathlib import Path

from modelwatch.core.config import Config
from modelwatch.core.files import write_atomically
from modelwatch.core.yaml_text import to_yaml
from modelwatch.rules import alerts as rule_alerts
from modelwatch.rules.builder import OUTAGES, Alert
from modelwatch.rules.platform import WATCHDOG

# The labels an outage and the alerts it explains must share: a service
# outage explains only its own job's alerts; without the exporter no baseline is
# published anywhere.
OUTAGE_SCOPE = {"service": ["job"], "exporter": []}
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


def _one_of(names: list[str]) -> str:
    return f'alertname=~"{"|".join(names)}"'


def outage_inhibitions(alerts: list[Alert]) -> list[dict]:
    """While an outage alert fires, the alerts it explains are held back, as their
    definitions say (``Alert.outage`` and ``Alert.explained_by``)."""
    rules = []
    for outage in OUTAGES:
        sources = sorted({a.name for a in alerts if a.outage == outage})
        targets = sorted({a.name for a in alerts if outage in a.explained_by})
        if sources and targets:
            rule = {"source_matchers": [_one_of(sources)], "target_matchers": [_one_of(targets)]}
            if OUTAGE_SCOPE[outage]:
                rule["equal"] = OUTAGE_SCOPE[outage]
            rules.append(rule)
    return rules


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
                # First: its silence is the signal, so it is sent every minute whatever else fires.
                {"matchers": [f'alertname="{WATCHDOG}"'], "receiver": "watchdog", "group_wait": "0s",
                 "group_interval": "1m", "repeat_interval": "1m"},
                {"matchers": ['severity="critical"'], "receiver": "page", "repeat_interval": "1h"},
                {"matchers": ['severity="warning"'], "receiver": "ticket"},
                {"matchers": ['severity="info"'], "receiver": "none"},
            ],
        },
        "receivers": [
            _receiver("page", prom.page_webhook_url),
            _receiver("ticket", prom.ticket_webhook_url),
            _receiver("watchdog", prom.watchdog_webhook_url),
            {"name": "none"},
        ],
        "inhibit_rules": [
            *outage_inhibitions(rule_alerts(config)),
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity=~"warning|info"'],
                "equal": SAME_PROBLEM,
            },
        ],
    }


def write_alertmanager_config(config: Config, path: Path) -> Path:
    return write_atomically(path, to_yaml(alertmanager_config(config)))  # webhook URLs may hold secrets
