"""The report's drift table: levels from the configured thresholds, names escaped, gaps shown as gaps.
(The figures themselves are checked against live Prometheus in tests/rules/test_live_drift_own_models.py.)"""

from __future__ import annotations

from modelwatch.core.config import Config, load_config
from modelwatch.reports.drift import ModelDrift, Worst, _level, _thresholds, figures, psi_chart_expr
from modelwatch.reports.report import drift_html


def test_levels_follow_the_configured_thresholds():
    config = Config()
    psi = next(f for f in figures(config.alerts) if f.title == "PSI (inputs)")
    unseen = next(f for f in figures(config.alerts) if f.title == "unseen categories")
    assert _level(psi, config.alerts.drift_psi_warning) == ""  # at the threshold: not over it
    assert _level(psi, config.alerts.drift_psi_warning + 1e-9) == "warning"
    assert _level(psi, config.alerts.drift_psi_critical + 1e-9) == "critical"
    assert _level(unseen, 1.0) == "warning"  # no critical threshold for this one


def test_a_model_with_its_own_thresholds_is_marked_by_them():
    config = load_config(env={"MODELWATCH_ALERTS__MODELS": "{penguins: {unseen_share_warning: 0.5}}"})
    assert _level(_thresholds(config, "penguins")["unseen categories"], 0.3) == ""
    assert _level(_thresholds(config, "wine")["unseen categories"], 0.3) == "warning"


def test_the_table_escapes_names_and_marks_levels():
    config = Config()
    model = ModelDrift("<b>m", "v1", 250, {"PSI (inputs)": Worst(0.4, "x&y", "critical", "x&y 0.4")})
    html = drift_html([model], config)
    assert "<b>m" not in html and "&lt;b&gt;m" in html and "x&amp;y 0.4" in html
    assert "<td class='critical'>x&amp;y 0.4</td>" in html
    assert html.count("<td>-</td>") == len(figures(config.alerts)) - 1
    assert drift_html([], config) == "<p>No model predicted in this range.</p>"


def test_the_chart_query_quotes_a_model_name():
    assert '{model_name="a\\"b"}' in psi_chart_expr('a"b')
