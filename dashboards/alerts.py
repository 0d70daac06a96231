"""Alerts: what fires and what is about to, by severity (Prometheus's ALERTS series)."""

from __future__ import annotations

from modelwatch.dashboards.panels import ORANGE, RED, Query, dashboard, rows, stat, state_timeline, steps, table, timeseries
from modelwatch.core.config import Config
from modelwatch.rules.platform import WATCHDOG

UID = "modelwatch-alerts"
# The watchdog always fires (its silence is the signal, at a dead-man's switch): not a problem to show.
OURS = f'alertname=~"Modelwatch.+", alertname!="{WATCHDOG}"'


def build(config: Config):
    def firing(severity: str) -> str:
        return f'count(ALERTS{{{OURS}, alertstate="firing", severity="{severity}"}}) or vector(0)'

    overview = [
        stat("Critical firing", firing("critical"), "short", thresholds=steps((1, RED))),
        stat("Warnings firing", firing("warning"), "short", thresholds=steps((1, ORANGE))),
        stat("Info firing", firing("info"), "short"),
        stat("Pending", f'count(ALERTS{{{OURS}, alertstate="pending"}}) or vector(0)', "short",
             description="Conditions true now that have not lasted their for: duration yet."),
        timeseries("Alerts by severity", Query(f"count by (severity, alertstate) (ALERTS{{{OURS}}})",
                                               "{{severity}} {{alertstate}}"), "short", stack=True, width=24),
        state_timeline("Alert timeline", Query(f"max by (alertname, severity) (ALERTS{{{OURS}}})",
                                               "{{alertname}} ({{severity}})"), "none",
                       thresholds=steps((1, ORANGE)), width=24),
        table("Alerts now", Query(f"ALERTS{{{OURS}}}"), "none",
              hidden_columns=("Time", "__name__", "Value")),
    ]
    return dashboard("modelwatch / Alerts", UID, "The project's alerts firing or pending, by severity.",
                     rows(("Alerts", overview)), [])
