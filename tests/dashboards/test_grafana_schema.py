"""Every generated dashboard against Grafana's own schemas: the JSON Schemas
scripts/update-grafana-schemas.sh generates from @grafana/schema (the
TypeScript types Grafana generates from its CUE schemas), committed in
dashboards/schemas — the dashboard, each panel (rows apart), each panel's
options and custom field config against its plugin's. No Grafana server runs
here: this is the stand-in for "Grafana loads it without migrating it". Then
a mistake of each kind the dashboards once carried is planted in a copy, and
must be caught."""

from __future__ import annotations

import copy
import functools
import json

import jsonschema
import pytest

from modelwatch.core.config import Config
from modelwatch.dashboards import dashboard_files
from tests.conftest import ROOT

SCHEMAS = ROOT / "dashboards" / "schemas"
PLUGINS = {"state-timeline": "statetimeline"}  # panel type -> its plugin's folder in @grafana/schema


@functools.cache
def validator(name: str) -> jsonschema.Draft7Validator | None:
    path = SCHEMAS / f"{name}.json"
    return jsonschema.Draft7Validator(json.loads(path.read_text())) if path.exists() else None


def _errors(name: str, instance) -> list[str]:
    checker = validator(name)
    return [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message[:160]}"
            for e in (checker.iter_errors(instance) if checker else [])]


def _thresholds_outside_the_scale(panel: dict) -> list[str]:
    """A threshold Grafana would draw off the panel's scale (the bar gauges once had one at 80 on 0–1)."""
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    low, high = defaults.get("min"), defaults.get("max")
    steps = [s["value"] for s in defaults.get("thresholds", {}).get("steps", []) if s.get("value") is not None]
    return [f"threshold {v} outside {low}..{high}" for v in steps
            if (low is not None and v < low) or (high is not None and v > high)]


def problems(board: dict) -> list[str]:
    found = _errors("dashboard", board)
    for panel in board["panels"]:
        title = panel.get("title", "?")
        if panel["type"] == "row":
            found += [f"{title}: {e}" for e in _errors("row", panel)]
            continue
        plugin = PLUGINS.get(panel["type"], panel["type"])
        found += [f"{title}: {e}" for e in _errors("panel", panel)]
        found += [f"{title}: {e}" for e in _errors(f"{plugin}.options", panel.get("options", {}))]
        custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom")
        if custom is not None:
            found += [f"{title}: {e}" for e in _errors(f"{plugin}.fieldconfig", custom)]
        found += [f"{title}: {e}" for e in _thresholds_outside_the_scale(panel)]
    return found


BOARDS = dashboard_files(Config())


def test_the_schemas_cover_every_panel_type_the_dashboards_use():
    types = {PLUGINS.get(p["type"], p["type"]) for board in BOARDS.values() for p in board["panels"]} - {"row"}
    assert all((SCHEMAS / f"{t}.options.json").exists() for t in types), types
    versions = json.loads((SCHEMAS / "versions.json").read_text())
    assert versions["@grafana/schema"].startswith("11.")  # the Grafana line the dashboards target


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_dashboard_is_valid_by_grafanas_own_schema(name):
    assert problems(BOARDS[name]) == []


def _first(board: dict, kind: str) -> dict:
    return next(p for p in board["panels"] if p["type"] == kind)


PLANTED = {
    "a bar gauge's thresholds in the old format": lambda b: _first(b, "bargauge")["options"].update(fieldOptions={
        "thresholds": [{"color": "green", "value": "null"}, {"color": "red", "value": 80.0}]}),
    "a threshold at 80 on a 0–1 scale": lambda b: _first(b, "bargauge")["fieldConfig"]["defaults"]["thresholds"][
        "steps"].append({"color": "red", "value": 80.0}),
    "a legacy heatmap key": lambda b: _first(b, "heatmap").update(cards={"cardPadding": None}),
    "a legacy table key": lambda b: _first(b, "table").update(columns=[]),
    "a row carrying panel-only fields": lambda b: _first(b, "row").update(targets=[], span=12),
    "a panel without fieldConfig.overrides": lambda b: _first(b, "timeseries")["fieldConfig"].pop("overrides"),
    "null in a variable's current": lambda b: b["templating"]["list"][0].update(current={"text": None, "value": None}),
    "an option the panel type does not have": lambda b: _first(b, "stat")["options"].update(sparkline=True),
    "a custom field setting of another type": lambda b: _first(b, "timeseries")["fieldConfig"]["defaults"].update(
        custom={"cellOptions": {"type": "auto"}}),
    "a grid position without a height": lambda b: _first(b, "timeseries")["gridPos"].pop("h"),
}


@pytest.mark.parametrize("mistake", sorted(PLANTED))
def test_a_planted_mistake_is_caught(mistake):
    board = copy.deepcopy(BOARDS["modelwatch-model.json"])
    if not any(p["type"] == "stat" for p in board["panels"]):  # the model board has no stat panel
        board = copy.deepcopy(BOARDS["modelwatch-service.json"]) | {"panels": board["panels"] + [
            copy.deepcopy(_first(BOARDS["modelwatch-service.json"], "stat"))]}
    PLANTED[mistake](board)
    assert problems(board), f"{mistake} was not caught"
