"""The SLO gate: a run fails (exit status 1) when its error ratio or its p95
latency breaks the configured SLO, and writes what it measured."""

from __future__ import annotations

import json
from pathlib import Path


def verdict(stats_total, availability_target: float, latency_threshold_seconds: float) -> dict:
    """``stats_total`` is Locust's ``environment.stats.total``."""
    requests = stats_total.num_requests
    error_ratio = stats_total.num_failures / requests if requests else 0.0
    p95 = (stats_total.get_response_time_percentile(0.95) or 0) / 1000
    breaches = []
    if requests == 0:
        breaches.append("no requests were made")
    if error_ratio > 1 - availability_target:
        breaches.append(f"error ratio {error_ratio:.3%} above {1 - availability_target:.3%}")
    if p95 > latency_threshold_seconds:
        breaches.append(f"p95 {p95 * 1000:.0f} ms above {latency_threshold_seconds * 1000:.0f} ms")
    return {
        "requests": requests, "failures": stats_total.num_failures, "error_ratio": error_ratio,
        "p95_seconds": p95, "requests_per_second": stats_total.total_rps,
        "slo": {"availability_target": availability_target, "latency_threshold_seconds": latency_threshold_seconds},
        "passed": not breaches, "breaches": breaches,
    }


def write(result: dict, out_dir: Path) -> Path:
    path = out_dir / "slo-gate.json"
    path.write_text(json.dumps(result, indent=2))
    return path
