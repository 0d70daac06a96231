"""The SLO gate: a load run passes when the service met its SLOs during the
run, judged the way the burn-rate rules judge them — server-side, from
Prometheus: the share of API requests answered without a 5xx, and the share
answered within the latency threshold, against their targets. Locust's own
figures (client-side p95, failures) are shown beside them; a client-side
failure also counts against availability, since a request that never reached
the service (refused, reset) is one the server cannot count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CLIENT_FILE = "client-stats.json"
GATE_FILE = "slo-gate.json"


@dataclass(frozen=True)
class ServerFigures:
    """What Prometheus saw of the run: API requests, and the two SLIs as good shares."""

    requests: float
    availability: float
    within_latency: float


def client_figures(stats_total, started: float, ended: float) -> dict:
    """Locust's totals (``environment.stats.total``) and the run's time span."""
    requests = stats_total.num_requests
    return {
        "requests": requests, "failures": stats_total.num_failures,
        "error_ratio": stats_total.num_failures / requests if requests else 0.0,
        "p95_seconds": (stats_total.get_response_time_percentile(0.95) or 0) / 1000,
        "requests_per_second": stats_total.total_rps, "started": started, "ended": ended,
    }


def verdict(client: dict, server: ServerFigures | None, slo, unavailable_reason: str = "") -> dict:
    """Pass or fail, with every breach in words. ``slo`` is the configuration's SloConfig;
    ``server`` is None when Prometheus could not be asked (``unavailable_reason`` says why)."""
    budget = 1 - slo.availability_target
    breaches = []
    if client["requests"] == 0:
        breaches.append("no requests were made")
    if client["error_ratio"] > budget:
        breaches.append(f"error ratio {client['error_ratio']:.3%} above {budget:.3%} (client-side)")
    if server is None:
        breaches.append(f"SLO not judged: {unavailable_reason}")
    elif server.requests < 1:
        breaches.append("SLO not judged: Prometheus saw no API requests during the run (does it scrape the "
                        "service under load?)")
    else:
        if server.availability < slo.availability_target:
            breaches.append(f"availability {server.availability:.3%} below {slo.availability_target:.3%}")
        if server.within_latency < slo.latency_target:
            breaches.append(f"{server.within_latency:.2%} of requests within {slo.latency_threshold_seconds * 1000:g} ms,"
                            f" below {slo.latency_target:.2%}")
    return {
        **{key: client[key] for key in ("requests", "failures", "error_ratio", "p95_seconds", "requests_per_second")},
        "server": None if server is None else {"requests": server.requests, "availability": server.availability,
                                               "within_latency": server.within_latency},
        "slo": {"availability_target": slo.availability_target, "latency_target": slo.latency_target,
                "latency_threshold_seconds": slo.latency_threshold_seconds},
        "passed": not breaches, "breaches": breaches,
    }


def write(document: dict, path: Path) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path
