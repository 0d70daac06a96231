"""The SLO gate's verdict from Locust's totals."""

from __future__ import annotations

from types import SimpleNamespace

from modelwatch.loadtests.gate import verdict


def totals(requests, failures, p95_ms, rps=10.0):
    return SimpleNamespace(num_requests=requests, num_failures=failures, total_rps=rps,
                           get_response_time_percentile=lambda q: p95_ms)


def test_within_the_slo_passes():
    result = verdict(totals(10_000, 5, 40), 0.999, 0.25)
    assert result["passed"] and result["error_ratio"] == 0.0005 and result["p95_seconds"] == 0.04


def test_errors_or_latency_beyond_the_slo_fail_with_the_reason():
    result = verdict(totals(1000, 5, 300), 0.999, 0.25)
    assert not result["passed"]
    assert result["breaches"] == ["error ratio 0.500% above 0.100%", "p95 300 ms above 250 ms"]


def test_a_run_without_requests_fails():
    assert verdict(totals(0, 0, None), 0.999, 0.25)["breaches"] == ["no requests were made"]
