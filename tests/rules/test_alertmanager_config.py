"""Alertmanager's configuration: accepted by amtool, routes by severity, and
inhibits what a bigger alert explains — checked against a real Alertmanager."""

from __future__ import annotations

import subprocess
import time

import pytest
import requests
import yaml

from modelwatch.core.config import Config
from modelwatch.rules.alertmanager_config import write_alertmanager_config
from tests.conftest import require_binary
from tests.model_service.served import free_port
from tests.waiting import wait_until_ok


@pytest.fixture
def config_file(tmp_path):
    return write_alertmanager_config(Config(), tmp_path / "alertmanager.yml")


def test_amtool_accepts_it(config_file):
    result = subprocess.run([require_binary("amtool"), "check-config", str(config_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("severity, receiver", [("critical", "page"), ("warning", "ticket"), ("info", "none")])
def test_routes_by_severity(config_file, severity, receiver):
    result = subprocess.run(
        [require_binary("amtool"), "config", "routes", "test", f"--config.file={config_file}",
         f"severity={severity}", "alertname=ModelwatchX"],
        capture_output=True, text=True,
    )
    assert result.stdout.strip() == receiver


@pytest.mark.parametrize("severity", ["critical", "warning", "info"])
def test_the_watchdog_goes_to_the_dead_mans_switch_every_minute(config_file, severity):
    result = subprocess.run(
        [require_binary("amtool"), "config", "routes", "test", f"--config.file={config_file}", f"severity={severity}",
         "alertname=ModelwatchWatchdog"],
        capture_output=True, text=True,
    )
    assert result.stdout.strip() == "watchdog"
    route = next(r for r in yaml.safe_load(config_file.read_text())["route"]["routes"] if r["receiver"] == "watchdog")
    assert route["repeat_interval"] == "1m" and route["group_wait"] == "0s"


def test_webhooks_come_from_the_configuration(tmp_path):
    from modelwatch.core.config import load_config
    config = load_config(env={"MODELWATCH_PROMETHEUS__PAGE_WEBHOOK_URL": "http://127.0.0.1:9999/page",
                              "MODELWATCH_PROMETHEUS__WATCHDOG_WEBHOOK_URL": "http://127.0.0.1:9999/ping"})
    path = write_alertmanager_config(config, tmp_path / "am.yml")
    assert "http://127.0.0.1:9999/page" in path.read_text() and "http://127.0.0.1:9999/ping" in path.read_text()
    result = subprocess.run([require_binary("amtool"), "check-config", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def alertmanager(tmp_path, config_file):
    binary = require_binary("prometheus-alertmanager")
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={config_file}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_ok(f"{url}/-/ready", process)
    yield url
    process.terminate()
    process.wait(timeout=10)


def _alert(name, severity, **labels):
    return {"labels": {"alertname": name, "severity": severity, **labels}, "annotations": {"summary": "."}}


def test_service_down_and_critical_alerts_inhibit_what_they_explain(alertmanager):
    drift = {"model_name": "iris", "model_version": "v1", "feature": "sl", "statistic": "psi"}
    alerts = [
        _alert("ModelwatchServiceDown", "critical", job="model-service"),
        _alert("ModelwatchLatencyAboveBaseline", "warning", job="model-service", quantile="0.95"),
        _alert("ModelwatchFeatureDrift", "critical", job="other-service", **drift),
        _alert("ModelwatchFeatureDrift", "warning", job="other-service", **drift),
        _alert("ModelwatchFeatureDrift", "warning", job="other-service", **{**drift, "feature": "pw"}),
    ]
    assert requests.post(f"{alertmanager}/api/v2/alerts", json=alerts, timeout=5).status_code == 200
    deadline = time.monotonic() + 20
    while True:
        got = requests.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
        state = {
            (a["labels"]["alertname"], a["labels"]["severity"], a["labels"]["job"], a["labels"].get("feature")):
                a["status"]["state"]
            for a in got
        }
        if len(state) == 5 and "unprocessed" not in state.values():
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state == {
        ("ModelwatchServiceDown", "critical", "model-service", None): "active",
        ("ModelwatchLatencyAboveBaseline", "warning", "model-service", None): "suppressed",
        ("ModelwatchFeatureDrift", "critical", "other-service", "sl"): "active",
        ("ModelwatchFeatureDrift", "warning", "other-service", "sl"): "suppressed",
        ("ModelwatchFeatureDrift", "warning", "other-service", "pw"): "active",
    }


def test_inhibitions_follow_the_alert_definitions():
    """Which alerts an outage holds back comes from the alerts themselves: every alert
    that declares an outage explains it is a target, and only those."""
    from modelwatch.rules import alerts
    from modelwatch.rules.alertmanager_config import outage_inhibitions
    from modelwatch.rules.builder import Alert

    defined = alerts(Config())
    rules = {rule["source_matchers"][0]: rule for rule in outage_inhibitions(defined)}
    service = rules['alertname=~"ModelwatchServiceDown"']
    targets = set(service["target_matchers"][0].split('"')[1].split("|"))
    assert targets == {a.name for a in defined if "service" in a.explained_by}
    assert {"ModelwatchLatencyBudgetBurn", "ModelwatchFeatureDrift"} <= targets and service["equal"] == ["job"]
    extra = Alert("ModelwatchSomethingNew", "vector(1)", "warning", "New.", "New.", explained_by=("exporter",))
    exporter = {r["source_matchers"][0]: r for r in outage_inhibitions([*defined, extra])}['alertname=~"ModelwatchExporterDown"']
    assert "ModelwatchSomethingNew" in exporter["target_matchers"][0]
