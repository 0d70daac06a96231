"""Every alert links to a runbook section that exists, and every runbook section is for an alert that exists."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from modelwatch.core.config import Config
from modelwatch.rules import GENERATED_DIR, alerts

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks.md"


def _sections() -> set[str]:
    # GitHub's anchor for "### ModelwatchServiceDown" is "#modelwatchservicedown".
    return {name.lower() for name in re.findall(r"^### (\w+)\s*$", RUNBOOKS.read_text(), re.MULTILINE)}


def test_every_alert_has_a_runbook_section():
    missing = sorted({a.runbook_anchor for a in alerts(Config())} - _sections())
    assert not missing, f"no section in docs/runbooks.md for: {missing}"


def test_every_runbook_section_belongs_to_an_alert():
    stale = sorted(_sections() - {a.runbook_anchor for a in alerts(Config())})
    assert not stale, f"runbook sections for alerts that do not exist: {stale}"


def test_generated_alerts_carry_the_runbook_url():
    base = Config().alerts.runbook_url
    for path in GENERATED_DIR.glob("*.rules.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    url = rule["annotations"]["runbook_url"]
                    assert url == f"{base}#{rule['alert'].lower()}", (path.name, rule["alert"])
                    assert url.split("#")[1] in _sections()


def test_links_inside_the_runbooks_resolve():
    anchors = {heading.lower().replace(" ", "-") for heading in re.findall(r"^#+ (.+?)\s*$", RUNBOOKS.read_text(), re.M)}
    broken = sorted(set(re.findall(r"\]\(#([^)]+)\)", RUNBOOKS.read_text())) - anchors)
    assert not broken, f"links to missing sections: {broken}"
