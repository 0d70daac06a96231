"""The report's drift table: levels from the configured thresholds, names escaped, gaps shown as gaps.
(The figures themselves are checked against live Prometheus in tests/rules/test_live_drift_own_models.py.)"""

from __future__ import annotations

from modelwatch.core.config import Config, load_config
from modelwatch.core.prometheus_api import Sample
from modelwatch.reports.drift import ModelDrift, Worst, _level, _thresholds, figures, model_drift, psi_chart_expr
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


class _RecordingPrometheus:
    """Answers one model version that predicted, and a PSI; keeps every query it was asked."""

    def __init__(self):
        self.asked = []

    def query(self, expr, at=None):
        self.asked.append(expr)
        if "model_predictions_total" in expr:
            return [Sample({"model_name": "m", "model_version": "v1"}, 300.0)]
        if "psi1h" in expr and "model_input_feature" in expr:
            return [Sample({"model_name": "m", "model_version": "v1", "feature": "x"}, 0.5)]
        return []


def test_a_range_shorter_than_the_figures_interval_still_reaches_their_last_sample():
    """The figures come once a minute (4 x 15 s): a 20 s report range looks back the whole minute."""
    prometheus = _RecordingPrometheus()
    drift = model_drift(Config(), prometheus, 1_000.0, 1_020.0)
    assert drift[0].worst["PSI (inputs)"].value == 0.5
    assert all("[60s]" in expr for expr in prometheus.asked if "max_over_time" in expr)
    prometheus = _RecordingPrometheus()
    model_drift(Config(), prometheus, 1_000.0, 1_300.0)  # longer: its own range
    assert all("[300s]" in expr for expr in prometheus.asked if "max_over_time" in expr)
