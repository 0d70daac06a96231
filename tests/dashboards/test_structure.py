"""The generated dashboards' structure: current panel types only, a query and a
unit on every panel, unique ids, datasources that resolve, defined variables,
stable uids, an explicit schema version — and the committed copy up to date."""

from __future__ import annotations

import re

import pytest
import yaml

from modelwatch.dashboards import GENERATED_DIR, MODULES, dashboard_files, render
from modelwatch.dashboards.panels import PANEL_TYPES, SCHEMA_VERSION
from modelwatch.cli import main
from modelwatch.core.config import Config, load_config

BOARDS = dashboard_files(Config())
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range", "__all"}


def panels(board: dict) -> list[dict]:
    return [p for p in board["panels"] if p["type"] != "row"]


def provisioned_datasource_uids() -> set[str]:
    document = yaml.safe_load((GENERATED_DIR / "provisioning" / "datasources" / "modelwatch.yaml").read_text())
    return {source["uid"] for source in document["datasources"]}


def test_five_dashboards_with_stable_unique_uids():
    assert len(BOARDS) == 5
    uids = [board["uid"] for board in BOARDS.values()]
    assert len(set(uids)) == 5 and all(re.fullmatch(r"modelwatch-[a-z]+", uid) for uid in uids)
    assert [board["uid"] for board in BOARDS.values()] == [m.UID for m in MODULES]
    assert dashboard_files(Config()) == BOARDS  # the same input gives the same JSON


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_panels_are_current_types_with_queries_units_and_unique_ids(name):
    board = BOARDS[name]
    assert board["schemaVersion"] == SCHEMA_VERSION
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    sources = provisioned_datasource_uids()
    for panel in panels(board):
        where = f"{name}: {panel['title']!r}"
        assert panel["type"] in PANEL_TYPES, where
        assert panel["targets"], f"{where} has no query"
        assert panel["fieldConfig"]["defaults"]["unit"], f"{where} has no unit"
        assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"], f"{where} has no thresholds"
        assert panel["datasource"]["uid"] in sources, where
        for target in panel["targets"]:
            assert target["expr"].strip(), where
            assert target["datasource"]["uid"] in sources, where
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"{where} runs off the grid"


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_variable_used_is_defined_and_variables_resolve_in_order(name):
    board = BOARDS[name]
    defined: list[str] = []
    for variable in board["templating"]["list"]:
        assert variable["datasource"]["uid"] in provisioned_datasource_uids()
        used = set(re.findall(r"\$(\w+)", variable["query"]))
        assert used <= set(defined), f"{name}: variable {variable['name']} uses {used - set(defined)} before it exists"
        defined.append(variable["name"])
    for panel in panels(board):
        for target in panel["targets"]:
            used = set(re.findall(r"\$\{?(\w+)", target["expr"])) - BUILTIN_VARIABLES
            assert used <= set(defined), f"{name}: {panel['title']!r} uses undefined {used - set(defined)}"


def test_dashboards_link_to_each_other_by_tag():
    for board in BOARDS.values():
        assert "modelwatch" in board["tags"]
        assert any(link["type"] == "dashboards" and "modelwatch" in link["tags"] for link in board["links"])


def test_thresholds_come_from_the_configuration():
    config = load_config(env={"MODELWATCH_ALERTS__DRIFT_PSI_WARNING": "0.15", "MODELWATCH_ALERTS__DRIFT_PSI_CRITICAL": "0.3"})
    board = dashboard_files(config)["modelwatch-model.json"]
    psi = next(p for p in panels(board) if p["title"].startswith("Feature drift: PSI"))
    assert [s["value"] for s in psi["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 0.15, 0.3]


def test_dashboards_command_writes_json_and_provisioning(tmp_path, capsys):
    assert main(["dashboards", "--out", str(tmp_path), "--prometheus-url", "http://127.0.0.1:9999"]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted([f"dashboards/{n}" for n in BOARDS] + [
        "provisioning/dashboards/modelwatch.yaml", "provisioning/datasources/modelwatch.yaml"])
    source = yaml.safe_load((tmp_path / "provisioning/datasources/modelwatch.yaml").read_text())["datasources"][0]
    assert source["url"] == "http://127.0.0.1:9999" and source["uid"] == "prometheus"
    assert (tmp_path / "dashboards/modelwatch-service.json").read_text() == render(BOARDS["modelwatch-service.json"])
