"""Every alert has a promtool unit test that makes it fire with its labels and
annotations, and one that keeps it silent past its ``for`` on a nearby healthy
series (except the watchdog, which always fires); every test file passes
``promtool test rules``."""

from __future__ import annotations

import re

import pytest

from modelwatch.core.config import Config
from modelwatch.rules import alerts
from modelwatch.rules.platform import WATCHDOG
from tests.conftest import require_binary
from tests.rules.promtool_tests import load, promtool_files, run_promtool


@pytest.mark.parametrize("path", promtool_files(), ids=lambda p: p.name)
def test_promtool_unit_tests_pass(path, tmp_path):
    result = run_promtool(require_binary("promtool"), path, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def _seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhdw])", text))


def _cases():
    for path in promtool_files():
        for test in load(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                yield path.name, test, case


def test_every_alert_fires_in_a_test_with_its_labels_and_annotations():
    fired = {
        (case["alertname"], alert["exp_labels"].get("severity"))
        for _, _, case in _cases()
        for alert in case.get("exp_alerts") or []
        if alert.get("exp_annotations", {}).keys() >= {"summary", "description"}
    }
    missing = sorted({(a.name, a.severity) for a in alerts(Config())} - fired)
    assert not missing, f"alerts with no firing test (with summary and description): {missing}"


def test_every_alert_stays_silent_past_its_for_in_a_test():
    longest_for: dict[str, int] = {}
    for alert in alerts(Config()):
        longest_for[alert.name] = max(longest_for.get(alert.name, 0), _seconds(alert.for_))
    silent = {}
    for _, _, case in _cases():
        if not case.get("exp_alerts"):
            name = case["alertname"]
            silent[name] = max(silent.get(name, -1), _seconds(case["eval_time"]))
    # The watchdog is the one alert meant never to be silent (its silence is what a dead-man's switch notices).
    missing = sorted(name for name, held in longest_for.items() if silent.get(name, -1) < held and name != WATCHDOG)
    assert not missing, f"alerts with no silent test evaluated after their for: duration: {missing}"


def test_test_files_only_name_alerts_that_exist():
    known = {a.name for a in alerts(Config())}
    unknown = sorted({case["alertname"] for _, _, case in _cases()} - known)
    assert not unknown, f"tests for alerts that no rule defines: {unknown}"
