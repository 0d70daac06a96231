"""The SLO gate's verdict: server-side SLIs against the targets, client-side failures beside them."""

from __future__ import annotations

from types import SimpleNamespace

from modelwatch.core.config import SloConfig
from modelwatch.loadtests.gate import ServerFigures, client_figures, verdict

SLO = SloConfig(availability_target=0.999, latency_target=0.99, latency_threshold_seconds=0.25)


def client(requests, failures, p95_ms=40, rps=10.0):
    totals = SimpleNamespace(num_requests=requests, num_failures=failures, total_rps=rps,
                             get_response_time_percentile=lambda q: p95_ms)
    return client_figures(totals, 100.0, 160.0)


def test_within_the_slo_passes_and_keeps_the_client_figures_beside_it():
    result = verdict(client(10_000, 5), ServerFigures(10_000, 0.9995, 0.995), SLO)
    assert result["passed"] and result["breaches"] == []
    assert result["error_ratio"] == 0.0005 and result["p95_seconds"] == 0.04
    assert result["server"] == {"requests": 10_000, "availability": 0.9995, "within_latency": 0.995}


def test_the_latency_slo_is_the_share_within_the_threshold_not_the_client_p95():
    # Locust's p95 is far above the threshold (say, a slow client machine), but the server
    # answered 99.5 % within it: the SLO as the rules define it holds.
    assert verdict(client(1000, 0, p95_ms=900), ServerFigures(1000, 1.0, 0.995), SLO)["passed"]
    # And the other way round: a fast client p95 with too few requests within the threshold fails.
    result = verdict(client(1000, 0, p95_ms=5), ServerFigures(1000, 1.0, 0.98), SLO)
    assert result["breaches"] == ["98.00% of requests within 250 ms, below 99.00%"]


def test_server_errors_and_client_failures_each_break_availability():
    result = verdict(client(1000, 5), ServerFigures(1000, 0.995, 1.0), SLO)
    assert result["breaches"] == ["error ratio 0.500% above 0.100% (client-side)", "availability 99.500% below 99.900%"]


def test_without_prometheus_or_without_its_data_the_slo_is_not_judged_and_the_run_fails():
    unreachable = verdict(client(1000, 0), None, SLO, "Prometheus at http://127.0.0.1:1 did not answer")
    assert unreachable["breaches"] == ["SLO not judged: Prometheus at http://127.0.0.1:1 did not answer"]
    blind = verdict(client(1000, 0), ServerFigures(0, 0, 0), SLO)
    assert not blind["passed"] and blind["breaches"][0].startswith("SLO not judged: Prometheus saw no API requests")


def test_a_run_without_requests_fails():
    assert "no requests were made" in verdict(client(0, 0, None), ServerFigures(0, 0, 0), SLO)["breaches"]
