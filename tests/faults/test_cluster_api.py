"""F11: a Kubernetes API server that accepts connections and never answers.

The real exporter, with its kubernetes collector and the real kubernetes client, lists a
stand-in API server (recorded objects: no API server exists on these machines), which
then starts to read requests and never answer. The collector must say so within a
refresh interval plus its request timeout, keep serving the last listing with its age,
and recover once the API answers again.
"""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.exporter.fake_kube_api import FakeApiServer
from tests.exporter.served import run_exporter

pytestmark = pytest.mark.integration

REFRESH, TIMEOUT = 2.0, 2.0


def scraped(base: str) -> dict[str, float]:
    text = requests.get(f"{base}/metrics", timeout=10).text
    wanted = {"modelwatch_scrape_collector_success", "modelwatch_kubernetes_cache_age_seconds",
              "kube_deployment_spec_replicas"}
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name in wanted and s.labels.get("collector", "kubernetes") == "kubernetes"}


def wait_for(base: str, condition, limit: float) -> tuple[float, dict]:
    started = time.monotonic()
    while True:
        try:
            values = scraped(base)
        except requests.Timeout:  # a busy machine: ask again
            values = {}
        if values and condition(values):
            return time.monotonic() - started, values
        assert time.monotonic() - started < limit, f"not within {limit} s: {values}"
        time.sleep(0.1)


def test_f11_a_silent_api_fails_the_collector_within_refresh_plus_timeout(state_dir, tmp_path, report):
    api = FakeApiServer()
    env = dict(KUBECONFIG=str(api.kubeconfig(tmp_path / "kubeconfig")),
               MODELWATCH_EXPORTER__COLLECTORS="kubernetes", MODELWATCH_EXPORTER__KUBERNETES_NAMESPACES="modelwatch",
               MODELWATCH_EXPORTER__KUBERNETES_REFRESH_SECONDS=str(REFRESH),
               MODELWATCH_EXPORTER__KUBERNETES_REQUEST_TIMEOUT_SECONDS=str(TIMEOUT))
    try:
        with run_exporter(state_dir, ('modelwatch_scrape_collector_success{collector="kubernetes"} 1.0',),
                          env) as (base, _):
            api.stalled = True
            to_failure, failing = wait_for(base, lambda v: v["modelwatch_scrape_collector_success"] == 0,
                                           limit=4 * (REFRESH + TIMEOUT))
            time.sleep(REFRESH)  # the stall goes on: the listing keeps ageing, and is still served
            stale = scraped(base)
            stalled_requests = len(api.requests)
            api.stalled = False
            to_recovery, recovered = wait_for(base, lambda v: v["modelwatch_scrape_collector_success"] == 1,
                                              limit=4 * (REFRESH + TIMEOUT))
    finally:
        api.close()
    report("F11", seconds_to_success_0=round(to_failure, 1), target_seconds=REFRESH + TIMEOUT,
           cache_age_while_failing=round(stale["modelwatch_kubernetes_cache_age_seconds"], 1),
           seconds_to_recover=round(to_recovery, 1))
    assert to_failure <= REFRESH + TIMEOUT + 1.0  # one second for scraping and this machine's load
    assert stale["modelwatch_scrape_collector_success"] == 0
    assert stale["kube_deployment_spec_replicas"] == 3  # the last listing, served with its age
    assert stale["modelwatch_kubernetes_cache_age_seconds"] > REFRESH + TIMEOUT
    assert stalled_requests > 1  # the refresh kept trying rather than blocking for good
    assert recovered["modelwatch_kubernetes_cache_age_seconds"] < REFRESH + TIMEOUT
