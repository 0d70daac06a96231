"""The shapes of Prometheus rules, and how they are written as YAML.

Alerts follow the monitoring-mixin conventions: CamelCase names with one
prefix, a ``severity`` of critical (page), warning (ticket) or info (not
routed), a static ``summary`` ending with a period, a templated
``description``, and a ``runbook_url`` pointing at the alert's own section of
docs/runbooks.md (``#`` + the lower-cased alert name, GitHub's anchor).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from modelwatch.core.yaml_text import to_yaml

ALERT_PREFIX = "Modelwatch"
SEVERITIES = ("critical", "warning", "info")
# Components whose outage an alert can announce, and so explain other alerts.
OUTAGES = ("service", "exporter")


def promql(expr: str) -> str:
    """A multi-line PromQL expression, dedented and trimmed."""
    return "\n".join(line.rstrip() for line in textwrap.dedent(expr).strip().splitlines())


def duration(seconds: float) -> str:
    """Prometheus duration text for a number of seconds (15.0 -> "15s", 90 -> "90s")."""
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{int(round(seconds * 1000))}ms"


@dataclass(frozen=True)
class Record:
    name: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self, runbook_base: str) -> dict:
        rule = {"record": self.name, "expr": promql(self.expr)}
        if self.labels:
            rule["labels"] = dict(self.labels)
        return rule


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    severity: str
    summary: str
    description: str
    for_: str = "0m"
    labels: dict[str, str] = field(default_factory=dict)
    # The component this alert says is down, if it says so; and the outages that
    # explain this alert, during which Alertmanager holds it back (inhibition).
    outage: str = ""
    explained_by: tuple[str, ...] = ()

    def __post_init__(self):
        if (self.outage and self.outage not in OUTAGES) or not set(self.explained_by) <= set(OUTAGES):
            raise ValueError(f"alert {self.name}: outages are {OUTAGES}")
        if not self.name.startswith(ALERT_PREFIX):
            raise ValueError(f"alert {self.name}: names start with {ALERT_PREFIX}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"alert {self.name}: severity must be one of {SEVERITIES}")
        if not self.summary.endswith("."):
            raise ValueError(f"alert {self.name}: a summary is a sentence ending with a period")

    @property
    def runbook_anchor(self) -> str:
        return self.name.lower()

    def to_dict(self, runbook_base: str) -> dict:
        rule = {"alert": self.name, "expr": promql(self.expr)}
        if self.for_ != "0m":
            rule["for"] = self.for_
        rule["labels"] = {"severity": self.severity, **self.labels}
        rule["annotations"] = {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": f"{runbook_base}#{self.runbook_anchor}",
        }
        return rule


@dataclass(frozen=True)
class Group:
    name: str
    rules: list[Record | Alert]
    interval: str | None = None

    def to_dict(self, runbook_base: str) -> dict:
        group: dict = {"name": self.name}
        if self.interval:
            group["interval"] = self.interval
        group["rules"] = [rule.to_dict(runbook_base) for rule in self.rules]
        return group


def rule_file_yaml(groups: list[Group], runbook_base: str) -> str:
    return to_yaml({"groups": [g.to_dict(runbook_base) for g in groups]})
