"""Per-model drift thresholds (alerts.models): the registered-model promtool tests
run against rules generated with penguins' thresholds raised out of reach and
diabetes' critical one too. Penguins' drift alerts stay silent on the same data
that fires them by default; diabetes still warns, at its own threshold, and no
longer goes critical. The other models keep the configured thresholds."""

from __future__ import annotations

import copy

import pytest

from modelwatch.core.config import ConfigError, load_config
from modelwatch.rules import rule_files
from modelwatch.rules.drift import model_thresholds
from tests.conftest import require_binary
from tests.rules.promtool_tests import TEST_DIR, load, run_promtool

OWN_MODELS_TESTS = TEST_DIR / "own_models.test.yml"
OVERRIDES = """
penguins: {unseen_share_warning: 0.99, missing_share_increase: 0.99, drift_js_warning: 0.99, drift_js_critical: 1,
           drift_psi_warning: 50, drift_psi_critical: 60}
diabetes: {drift_psi_critical: 1000}
my.model-2: {drift_ks_warning: 0.15}
"""
SILENCED = {"ModelwatchUnseenCategories", "ModelwatchMissingValuesRising", "ModelwatchManyFeaturesDrifting",
            "ModelwatchFeatureDrift"}


def _expected_with_overrides(spec: dict) -> dict:
    spec = copy.deepcopy(spec)
    for case in spec["tests"][0]["alert_rule_test"]:
        if case["alertname"] in SILENCED:
            case["exp_alerts"] = []
        elif case["alertname"] == "ModelwatchPredictionDrift":
            case["exp_alerts"] = [a for a in case["exp_alerts"] if a["exp_labels"]["severity"] == "warning"]
    return spec


def test_a_model_with_its_own_thresholds_is_judged_by_them(tmp_path):
    config = load_config(env={"MODELWATCH_ALERTS__MODELS": OVERRIDES})
    rule_dir = tmp_path / "rules"
    rule_dir.mkdir()
    for name, text in rule_files(config).items():
        (rule_dir / name).write_text(text)
    expected = _expected_with_overrides(load(OWN_MODELS_TESTS))
    assert expected != load(OWN_MODELS_TESTS)  # the overrides change what fires
    result = run_promtool(require_binary("promtool"), OWN_MODELS_TESTS, tmp_path, expected,
                          sorted(rule_dir.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_model_gets_one_selector_and_the_rest_the_configured_thresholds():
    config = load_config(env={"MODELWATCH_ALERTS__MODELS": OVERRIDES})
    pairs = model_thresholds(config.alerts)
    assert [only for _, only in pairs] == [
        '{model_name!~"diabetes|my\\\\.model\\\\-2|penguins"}', '{model_name="diabetes"}',
        '{model_name="my.model-2"}', '{model_name="penguins"}']
    assert pairs[0][0].unseen_share_warning == config.alerts.unseen_share_warning
    assert pairs[3][0].unseen_share_warning == 0.99 and pairs[3][0].drift_ks_warning == config.alerts.drift_ks_warning
    assert model_thresholds(load_config(env={}).alerts) == [(load_config(env={}).alerts, "")]


@pytest.mark.parametrize("overrides, message", [
    ("{pen guins: {unseen_share_warning: 0.2}}", "'pen guins' is not a model name"),
    ("{penguins: {baseline_factor: 2}}", "alerts.models.penguins: baseline_factor: not a per-model threshold"),
    ("{penguins: {drift_psi_critical: 0.01}}", "alerts.models.penguins.drift_psi_critical: must not be below"),
    ("{penguins: {unseen_share_warning: many}}", "alerts.models.penguins.unseen_share_warning: expected a number"),
    ("[penguins]", "alerts.models: expected a mapping"),
    ("{penguins: [", "alerts.models: not valid YAML"),
])
def test_bad_overrides_are_refused_in_one_line(overrides, message):
    with pytest.raises(ConfigError, match="^invalid configuration: .*" + message.replace(".", r"\.")) as error:
        load_config(env={"MODELWATCH_ALERTS__MODELS": overrides})
    assert "\n" not in str(error.value)
