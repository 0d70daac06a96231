"""docs/metrics.md lists exactly the recorded series the rules write, with their labels."""

from __future__ import annotations

import re
from pathlib import Path

from modelwatch.core.config import Config
from modelwatch.rules import rule_groups
from modelwatch.rules.builder import Record

METRICS_DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def _documented() -> dict[str, set[str]]:
    section = METRICS_DOC.read_text().split("## Recorded series", 1)[1]
    rows = re.findall(r"^\| `([a-z_:0-9]+)` \|([^|]*)\|", section, re.MULTILINE)
    return {name: set(re.findall(r"`(\w+)`", labels)) for name, labels in rows}


def test_catalogue_lists_every_recorded_series():
    records = {
        rule.name for groups in rule_groups(Config()).values() for group in groups for rule in group.rules
        if isinstance(rule, Record)
    }
    assert set(_documented()) == records



def documented_labels(name: str) -> set[str]:
    """The label names docs/metrics.md gives a recorded series (the live drift test checks them)."""
    return _documented()[name]
