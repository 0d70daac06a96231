"""The soak benchmark's bookkeeping: capacity, growth and the killed workers' requests."""

from __future__ import annotations

import json

import pytest

from bench.soak import DEFAULT_RPS, _killed_in_flight, default_rps, growth, late_growth, per_series


def test_the_default_rate_is_70_percent_of_the_highest_rate_that_held(tmp_path):
    results = tmp_path / "stack.json"
    results.write_text(json.dumps({"capacity": [{"achieved_rps": 400, "slo_met": True},
                                                {"achieved_rps": 800, "slo_met": True},
                                                {"achieved_rps": 1100, "slo_met": False}]}))
    assert default_rps(results) == 0.7 * 800
    assert default_rps(tmp_path / "missing.json") == DEFAULT_RPS
    results.write_text("not json")
    assert default_rps(results) == DEFAULT_RPS


def test_growth_is_from_the_end_of_the_warm_up(tmp_path):
    result = {"before": {"rss_bytes": {"service": 50}},
              "after_warm_up": {"rss_bytes": {"service": 100, "exporter": 200}},
              "end": {"rss_bytes": {"service": 103, "exporter": 200, "new": 10}}}
    assert growth(result) == {"service": pytest.approx(0.03), "exporter": 0.0}


def test_prometheus_memory_is_also_judged_per_head_series():
    assert per_series({"rss_bytes": {"prometheus": 80 * 2**20}, "prometheus_head_series": 2048}) == 40 * 1024
    for stage in (None, {"rss_bytes": {}, "prometheus_head_series": 10},
                  {"rss_bytes": {"prometheus": 1}, "prometheus_head_series": None}):
        assert per_series(stage) is None  # not measured: no figure rather than a wrong one


def test_the_requests_killed_workers_held_are_read_from_the_masters_log(tmp_path):
    log = tmp_path / "service.log"
    log.write_text("[INFO] Booting worker\n"
                   "[WARNING] worker 12 died with 2 request(s) in flight; counted as 500s\n"
                   "[WARNING] worker 19 died with 1 request(s) in flight; counted as 500s\n")
    assert _killed_in_flight(log) == 3
    assert _killed_in_flight(tmp_path / "none.log") == 0


def test_the_last_half_starts_once_the_canary_has_settled():
    samples = [{"elapsed": t, "rss_bytes": {"edge": 100 + t // 60, "prometheus": 100}} for t in range(0, 1800, 60)]
    samples[17]["rss_bytes"]["prometheus"] = 120  # 17 min: the canary's series are in (switch at 15, +2)
    samples[16]["rss_bytes"]["prometheus"] = 90
    result = {"minutes": 30, "timeline": samples, "end": {"rss_bytes": {"edge": 130, "prometheus": 123}}}
    late = late_growth(result)
    assert late["edge"] == pytest.approx(130 / 117 - 1)  # a steady climb shows in the last half too
    assert late["prometheus"] == pytest.approx(123 / 120 - 1)  # the step at the switch does not
    assert late_growth({**result, "timeline": samples[:10]}) == {}  # a run cut short: no figure
    assert late_growth({"minutes": 30, "end": result["end"]}) == {}  # an older result without minute samples
