"""The service as users run it: gunicorn with several workers, multiprocess
metrics, worker restarts, SIGHUP reloads, graceful shutdown."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_binary
from tests.model_service.served import serve, worker_pids
from tests.waiting import wait_until
from tests.model_service.test_metrics import catalogue

pytestmark = pytest.mark.integration
QUERY = "sl=5.1&sw=3.5&pl=1.4&pw=0.3"


def scrape(base: str) -> dict[tuple, float]:
    text = requests.get(f"{base}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def classify_count(samples, status="200") -> float:
    return sum(
        v for (name, labels), v in samples.items()
        if name == "http_server_request_duration_seconds_count"
        and dict(labels).get("http_route") == "/api/v1/classify"
        and dict(labels).get("http_response_status_code") == status
    )


def send(base: str, key: str, n: int, threads: int = 4) -> list[int]:
    def one(_):
        # A new connection per request spreads requests over the workers.
        return requests.get(f"{base}/api/v1/classify?{QUERY}", headers={"X-API-Key": key, "Connection": "close"}, timeout=10).status_code

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(n)))


# Series only a registered model's versions have (this state serves the Iris example alone, a
# classifier: the regressors' error series neither); the library mismatch only when a version was
# saved with other library versions (tests/model_service/test_libraries.py).
REGISTERED_MODELS_ONLY = {"model_input_feature_missing_total", "model_prediction_bucket_total",
                          "model_library_version_mismatch", "model_prediction_absolute_error",
                          "model_prediction_signed_error", "model_prediction_squared_error_total"}


def test_multiprocess_metrics_sum_over_workers(state_dir, keys):
    promtool = require_binary("promtool")
    with serve(state_dir, workers=2) as (base, process):
        assert send(base, keys["user"], 200) == [200] * 200
        wait_until(lambda: classify_count(scrape(base)) == 200, 10,
                   lambda: f"{classify_count(scrape(base))} of 200 counted")  # workers flush every second
        text = requests.get(f"{base}/metrics", timeout=5).text
        # Both workers wrote their own files, and both served requests.
        files = list((state_dir / "run" / "prometheus-multiproc").glob("histogram_*.db"))
        assert len(files) == 2
        names = {family.name for family in text_string_to_metric_families(text)}
        for name, (kind, _) in catalogue().items():
            if name.startswith(("modelwatch_", "node_", "namedprocess_", "container_", "kube_")):
                continue  # the exporter's: tests/exporter/test_server.py
            if name in REGISTERED_MODELS_ONLY:
                continue  # tests/model_service/test_tabular_served.py, test_libraries.py
            if name.startswith("rpc_server_"):
                continue  # served once gRPC is called: tests/model_service/test_oip_clients.py
            family = name[: -len("_total")] if kind == "counter" else name
            assert family in names, f"{name} is in docs/metrics.md but not served"
    lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_talks_curl_example_against_real_server(state_dir, keys):
    curl = require_binary("curl")
    with serve(state_dir) as (base, _):
        out = subprocess.run([curl, "-s", "--data", QUERY, f"{base}/api/v1/classify?key={keys['user']}"],
                             capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["species"] == "Iris setosa"


def test_worker_restarts_keep_files_bounded_and_counters_monotonic(state_dir, keys):
    with serve(state_dir, workers=2, max_requests=25) as (base, process):
        first_workers = worker_pids(process.pid)
        counts, sent = [], 0
        for _ in range(8):
            assert set(send(base, keys["user"], 60)) == {200}
            sent += 60
            counts.append(classify_count(scrape(base)))
        assert counts == sorted(counts), f"a counter went backwards: {counts}"
        wait_until(lambda: classify_count(scrape(base)) == sent, 10,  # nothing lost when workers died
                   lambda: f"{classify_count(scrape(base))} of {sent} counted")
        assert worker_pids(process.pid).isdisjoint(first_workers)  # workers really were replaced
        files = sorted(p.name for p in (state_dir / "run" / "prometheus-multiproc").glob("*.db"))
        # Per live worker: counter, histogram and three gauge files; plus the archives.
        assert len(files) <= 2 * 5 + 3, files
        assert {"counter_archive.db", "histogram_archive.db"} <= set(files)


def test_sighup_reloads_models_without_replacing_workers(state_dir, keys):
    with serve(state_dir, workers=2, reload_poll_seconds=0.1) as (base, process):
        workers = worker_pids(process.pid)
        model = state_dir / "models" / "iris" / "v1" / "model.skops"
        model.write_bytes(model.read_bytes()[:-4] + b"bad!")
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        failures = 0.0
        while time.monotonic() < deadline:
            failures = scrape(base).get(
                ("model_reload_failures_total", (("model_name", "iris"), ("reason", "checksum"))), 0.0)
            if failures >= 2:
                break
            time.sleep(0.1)
        assert failures == 2  # each worker tried, rejected the corrupt artifact...
        assert send(base, keys["user"], 20) == [200] * 20  # ...and kept serving v1
        assert worker_pids(process.pid) == workers


def test_deploy_command_switches_running_workers(state_dir, keys):
    import os
    import sys

    with serve(state_dir, workers=2, reload_poll_seconds=0.1) as (base, _):
        env = dict(os.environ, MODELWATCH_PATHS__STATE_DIR=str(state_dir))
        subprocess.run([sys.executable, "-m", "modelwatch", "deploy", "--stable", "v2"], env=env, check=True,
                       capture_output=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            versions = {
                requests.get(f"{base}/api/v1/classify?{QUERY}", headers={"X-API-Key": keys["user"], "Connection": "close"},
                             timeout=5).json()["model_version"]
                for _ in range(10)
            }
            if versions == {"v2"}:
                break
            time.sleep(0.1)
        assert versions == {"v2"}


def test_sigterm_drains_in_flight_requests(state_dir, keys):
    """Requests already accepted when SIGTERM arrives complete with 200."""
    with serve(state_dir, workers=2) as (base, process):
        session_results: list[int] = []
        big = {"instances": [[5.1, 3.5, 1.4, 0.3]] * 1000}

        def one(_):
            return requests.post(f"{base}/api/v1/predict", json=big, headers={"X-API-Key": keys["user"]}, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(one, i) for i in range(8)]
            time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            for future in futures:
                try:
                    session_results.append(future.result())
                except requests.ConnectionError:
                    session_results.append(0)  # refused: arrived after the listener closed
        assert process.wait(timeout=30) == 0
        assert all(code in (200, 0) for code in session_results), session_results
        assert 200 in session_results
