"""The kubernetes collector against a 5,000-pod namespace (the stand-in API
server, serving pods made from the Deployment's template as the API server
would: tests/exporter/pod_list.py), run as the real exporter process: it lists
a page at a time and keeps only what it reports, so its peak memory stays
within the exporter's limit in k8s/base, where one full list would not."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest
import requests
import yaml
from kubernetes.utils import parse_quantity

from modelwatch.exporter.collectors.kubernetes import KubernetesCollector
from modelwatch.exporter.collectors import StaleCollection
from tests.exporter.fake_kube_api import FakeApiServer
from tests.exporter.pod_list import pod_list
from tests.exporter.served import run_exporter

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PODS = "/api/v1/namespaces/modelwatch/pods"
COUNT = 5000


def memory_limit() -> int:
    deployment = yaml.safe_load_all((ROOT / "k8s/base/exporter.yaml").read_text())
    container = next(d for d in deployment if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return int(parse_quantity(container["resources"]["limits"]["memory"]))


def peak_of_exporter(base: str) -> int:
    """Peak resident memory (VmHWM) of the exporter process serving ``base``."""
    port = base.rsplit(":", 1)[1]
    exporter = next(p for p in psutil.Process().children(recursive=True) if port in p.cmdline())
    status = Path(f"/proc/{exporter.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024


def listed_once(state_dir: Path, tmp_path: Path, page_size: int) -> dict:
    api = FakeApiServer()
    api.lists[PODS] = pod_list(COUNT)
    env = dict(KUBECONFIG=str(api.kubeconfig(tmp_path / f"kubeconfig-{page_size}")),
               MODELWATCH_EXPORTER__COLLECTORS="kubernetes", MODELWATCH_EXPORTER__KUBERNETES_NAMESPACES="modelwatch",
               MODELWATCH_EXPORTER__KUBERNETES_LIST_PAGE_SIZE=str(page_size),
               MODELWATCH_EXPORTER__COLLECTOR_DEADLINE_SECONDS="60")
    try:
        with run_exporter(state_dir, ('modelwatch_scrape_collector_success{collector="kubernetes"} 1.0',),
                          env) as (base, text):
            peak = peak_of_exporter(base)
    finally:
        api.close()
    def count(family: str, label: str) -> int:  # samples at 1 with that label (exposition sorts labels)
        return sum(1 for line in text.splitlines()
                   if line.startswith(family + "{") and label in line and line.endswith(" 1.0"))

    return {"peak_bytes": peak, "pod_pages": api.requests.count(PODS),
            "phase_series": sum(1 for line in text.splitlines() if line.startswith("kube_pod_status_phase{")),
            "not_ready": count("kube_pod_status_ready", 'condition="false"'),
            "oom_killed": count("kube_pod_container_status_last_terminated_reason", 'reason="OOMKilled"')}


def test_a_5000_pod_namespace_is_listed_in_pages_within_the_exporter_s_memory_limit(state_dir, tmp_path):
    limit = memory_limit()
    paged = listed_once(state_dir, tmp_path, page_size=500)
    whole = listed_once(state_dir, tmp_path, page_size=10_000)  # one call: the list the collector used to make
    figures = {"paged_peak_mib": paged["peak_bytes"] / 2**20, "one_list_peak_mib": whole["peak_bytes"] / 2**20,
               "limit_mib": limit / 2**20, "pod_pages": paged["pod_pages"]}
    print("5,000 pods:", json.dumps({k: round(v, 1) for k, v in figures.items()}))
    assert paged["pod_pages"] == COUNT // 500 and whole["pod_pages"] == 1
    for run in (paged, whole):  # every pod reported, whatever the paging
        assert run["phase_series"] == COUNT * 5 and run["not_ready"] == COUNT // 10
        assert run["oom_killed"] == len(range(0, COUNT, 7))
    assert paged["peak_bytes"] < 0.75 * limit, figures  # room left for the rest of the exporter
    assert paged["peak_bytes"] < whole["peak_bytes"], figures


def test_an_expired_continue_token_fails_that_listing_and_the_next_starts_over():
    api = FakeApiServer()
    api.lists[PODS] = pod_list(1200)
    try:
        collector = KubernetesCollector(["modelwatch"], refresh_seconds=3600, connect=api.connect, page_size=500)
        collector.refresh()
        assert sum(1 for f in _families(collector) if f.name == "kube_pod_status_phase" for _ in f.samples) == 6000
        api.expired_tokens = True  # the second page's token has expired (410 Gone)
        collector.refresh()
        with pytest.raises(StaleCollection):  # that listing failed: the last good one is served, marked stale
            list(collector.collect())
        api.expired_tokens = False
        started = time.monotonic()
        collector.refresh()
        assert sum(1 for f in _families(collector) if f.name == "kube_pod_status_phase" for _ in f.samples) == 6000
        assert time.monotonic() - started < 30
    finally:
        api.close()


def _families(collector: KubernetesCollector) -> list:
    return list(collector.collect())


def test_the_stand_in_answers_pages_as_the_api_server_does():
    """limit and continue as the API documents them: pages of at most ``limit``, a token until the last."""
    api = FakeApiServer()
    api.lists[PODS] = pod_list(1200)
    try:
        first = requests.get(f"{api.url}{PODS}?limit=500", timeout=10).json()
        last = requests.get(f"{api.url}{PODS}?limit=500&continue=1000", timeout=10).json()
    finally:
        api.close()
    assert len(first["items"]) == 500 and first["metadata"]["continue"]
    assert len(last["items"]) == 200 and "continue" not in last["metadata"]
