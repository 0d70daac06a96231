"""The queries module is the one source of recorded names and shared PromQL:
every name it gives is recorded by the rules, no other module spells one out,
and the expressions it hands out parse in PromQL (promtool)."""

from __future__ import annotations

import io
import re
import subprocess
import tokenize
from pathlib import Path

import yaml

from modelwatch.core import queries
from modelwatch.core.config import Config
from modelwatch.rules import rule_files
from tests.conftest import ROOT, require_binary

SOURCE_FOLDERS = ("model_service", "exporter", "rules", "dashboards", "autoscaler", "loadtests", "modelwatch", "bench")


def _recorded_by_rules(config: Config) -> set[str]:
    return {rule["record"] for text in rule_files(config).values()
            for group in yaml.safe_load(text)["groups"] for rule in group["rules"] if "record" in rule}


def test_every_recorded_name_the_module_gives_is_recorded_by_the_rules():
    recorded = _recorded_by_rules(Config())
    assert set(queries.RECORDED) <= recorded
    assert recorded == set(queries.RECORDED) | {queries.slo_error_ratio(w) for w in ("30m", "1h", "2h", "6h", "1d", "3d")} \
        | {queries.baseline_stable(m) for m in ("latency_seconds", "requests_per_second_per_replica",
                                                "cpu_seconds_per_request", "memory_bytes_per_replica", "error_ratio")}


def _string_literals(path: Path):
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type == tokenize.STRING:
            yield token.start[0], token.string


def test_no_module_spells_out_a_recorded_name():
    names = sorted(_recorded_by_rules(Config()), key=len, reverse=True)
    pattern = re.compile(r"(?<![\w:])(" + "|".join(map(re.escape, names)) + r")(?![\w:])")
    spelled = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in SOURCE_FOLDERS for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "modelwatch/core/queries.py"
        for line, literal in _string_literals(path) if pattern.search(literal)
    ]
    assert not spelled, f"import these names from modelwatch.core.queries: {spelled}"


def test_the_api_selector_is_written_once():
    copies = [
        str(path.relative_to(ROOT)) for folder in SOURCE_FOLDERS for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "modelwatch/core/queries.py" and "http_route=~" in path.read_text()
    ]
    assert not copies


def test_the_scaling_metrics_are_the_ones_the_configuration_accepts():
    for metric in queries.SCALING_METRICS:
        config = Config()
        config = type(config)(autoscaler=type(config.autoscaler)(metric=metric))
        assert not config.validate()
        assert queries.scaling_metric(config).query
    bad = type(Config())(autoscaler=type(Config().autoscaler)(metric="gpu"))
    assert any("autoscaler.metric" in problem for problem in bad.validate())


def test_the_shared_expressions_parse(tmp_path):
    """promtool parses every expression other parts evaluate (a rule file of them, checked)."""
    promtool = require_binary("promtool")
    s = queries.Selectors(Config())
    expressions = {
        "p95": queries.api_latency_quantile("0.95", s),
        "rate": queries.api_request_rate(s, "1m"),
        "errors": queries.api_server_errors(s, "5m"),
        "error_rate": queries.api_server_error_rate(s, "1m"),
        "availability": queries.availability_good_ratio(s, "10m"),
        "latency": queries.latency_slo_good_ratio(s, "10m"),
        "latency_bad": queries.slo_bad_share("latency", "5m", s),
        **{f"baseline_{k}": v for k, v in queries.performance_baseline(s, "60s").items()},
        **{f"scaling_{k}": build(s).query for k, build in queries.SCALING_METRICS.items()},
    }
    rules = {"groups": [{"name": "shared", "rules": [{"record": f"check:{i}", "expr": expr}
                                                      for i, expr in enumerate(expressions.values())]}]}
    path = tmp_path / "shared.rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_latency_sli_counts_requests_within_the_slo_threshold_bucket():
    s = queries.Selectors(Config())
    assert 'le="0.25"' in queries.latency_slo_good_ratio(s, "5m")
    faster = queries.Selectors(type(Config())(slo=type(Config().slo)(latency_threshold_seconds=0.1)))
    assert 'le="0.1"' in queries.latency_slo_good_ratio(faster, "5m")


def test_counted_increase_counts_events_exactly_and_falls_back_to_increase_on_a_reset(tmp_path):
    """Evaluated by promtool at 10m over 150 s of samples a minute apart: increase() would make the
    steady counter's 9 (21 at 7m to 30) into 7.5, and the newborn series' 5 into 7.5 too."""
    promtool = require_binary("promtool")
    spec = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": 'c{s="steady"}', "values": "0+3x10"},
                         {"series": 'c{s="born"}', "values": "_x8 2 5"},
                         {"series": 'c{s="reset"}', "values": "10+10x7 5 10 15"}],
        "promql_expr_test": [{"expr": queries.counted_increase("c", 150), "eval_time": "10m", "exp_samples": [
            {"labels": '{s="steady"}', "value": 9}, {"labels": '{s="born"}', "value": 5},
            {"labels": '{s="reset"}', "value": 12.5}]}]}]}
    path = tmp_path / "counted.test.yml"
    path.write_text(yaml.safe_dump(spec))
    result = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
