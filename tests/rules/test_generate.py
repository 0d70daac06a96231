"""The rule files: generated from the configuration, committed up to date, accepted by promtool."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from modelwatch.cli import main
from modelwatch.core.config import Config, load_config
from modelwatch.rules import GENERATED_DIR, MODULES, rule_files, write_rule_files
from modelwatch.rules.builder import Alert
from tests.conftest import require_binary


def test_promtool_accepts_every_rule_file_without_lint_findings():
    promtool = require_binary("promtool")
    files = [str(GENERATED_DIR / name) for name in MODULES]
    result = subprocess.run([promtool, "check", "rules", "--lint=all", "--lint-fatal", *files],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_thresholds_and_selectors_come_from_the_configuration():
    config = load_config(env={
        "MODELWATCH_SLO__AVAILABILITY_TARGET": "0.995",
        "MODELWATCH_SLO__LATENCY_THRESHOLD_SECONDS": "0.1",
        "MODELWATCH_ALERTS__DRIFT_PSI_WARNING": "0.2",
        "MODELWATCH_ALERTS__DRIFT_PSI_CRITICAL": "0.4",
        "MODELWATCH_ALERTS__SERVICE_JOB": "iris-api",
        "MODELWATCH_MODEL__FEATURE_BUCKETS": "4",
    })
    files = rule_files(config)
    assert "slo:sli_error:ratio_rate1h{slo=\"availability\"} > (14.4 * 0.005)" in files["slo.rules.yml"]
    assert 'le="0.1"' in files["slo.rules.yml"]
    assert "(model_version_feature:model_input_feature:psi1h) > 0.2\n" in files["drift.rules.yml"]
    assert "(model_version_feature:model_input_feature:psi1h) > 0.4\n" in files["drift.rules.yml"]
    assert 'job="model-service"' not in "".join(files.values())
    assert 'up{job="iris-api"}' in files["platform.rules.yml"]
    # 4 quantile buckets plus one below and one above the training range: 00..05.
    assert "bucket: '05'" in files["drift.rules.yml"] and "bucket: '06'" not in files["drift.rules.yml"]


def test_record_names_follow_the_level_metric_operations_convention():
    for text in rule_files(Config()).values():
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    assert len(rule["record"].split(":")) == 3, rule["record"]


@pytest.mark.parametrize("change, message", [
    ({"name": "ServiceDown"}, "names start with Modelwatch"),
    ({"severity": "page"}, "severity must be one of"),
    ({"summary": "no period"}, "ending with a period"),
])
def test_alerts_that_break_the_conventions_are_refused(change, message):
    fields = dict(name="ModelwatchX", expr="up == 0", severity="warning", summary="Down.", description="d")
    with pytest.raises(ValueError, match=message):
        Alert(**{**fields, **change})


def test_writing_removes_rule_files_no_longer_generated(tmp_path):
    (tmp_path / "retired.rules.yml").write_text("groups: []\n")
    (tmp_path / "notes.txt").write_text("kept")
    write_rule_files(Config(), tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.rules.yml")) == sorted(MODULES)
    assert (tmp_path / "notes.txt").exists()


def test_rules_command_writes_and_checks_everything(tmp_path, capsys, monkeypatch):
    require_binary("promtool")
    require_binary("amtool")
    monkeypatch.setenv("MODELWATCH_SERVICE__PORT", "8123")
    assert main(["rules", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "checked with promtool and amtool" in out
    prometheus = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]}
    assert targets["model-service"] == ["127.0.0.1:8123"]
    assert sorted(p.name for p in (tmp_path / "rules").iterdir()) == sorted(MODULES)
