"""The kubernetes collector against a local HTTP server answering with recorded
API objects (no Kubernetes API server exists on these machines): the real
kubernetes client, the cache, an API outage and recovery."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry

from modelwatch.exporter.collectors import StaleCollection
from modelwatch.exporter.collectors.kubernetes import KubernetesCollector
from modelwatch.exporter.scrape import ScrapeCollector
from tests.exporter.fake_kube_api import FakeApiServer

@pytest.fixture
def api():
    server = FakeApiServer()
    yield server
    server.close()


def collected(collector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def test_recorded_objects_become_kube_state_metrics_series(api):
    registry = collected(KubernetesCollector(["modelwatch"], 3600, api.connect))
    ns = {"namespace": "modelwatch"}
    dep = {**ns, "deployment": "model-service"}
    assert registry.get_sample_value("kube_deployment_spec_replicas", dep) == 3
    assert registry.get_sample_value("kube_deployment_status_replicas_available", dep) == 2
    pod_b = {**ns, "pod": "model-service-7d9f-b", "uid": "p2"}
    assert registry.get_sample_value("kube_pod_status_phase", {**pod_b, "phase": "Running"}) == 1
    assert registry.get_sample_value("kube_pod_status_ready", {**pod_b, "condition": "false"}) == 1
    assert registry.get_sample_value("kube_pod_container_status_restarts_total", {**pod_b, "container": "service"}) == 2
    assert registry.get_sample_value("kube_pod_container_status_last_terminated_reason",
                                     {**pod_b, "container": "service", "reason": "OOMKilled"}) == 1
    assert registry.get_sample_value("kube_pod_status_phase",
                                     {**ns, "pod": "model-service-7d9f-c", "uid": "p3", "phase": "Pending"}) == 1
    hpa = {**ns, "horizontalpodautoscaler": "model-service"}
    assert registry.get_sample_value("kube_horizontalpodautoscaler_spec_max_replicas", hpa) == 10
    assert registry.get_sample_value("kube_horizontalpodautoscaler_status_desired_replicas", hpa) == 4
    rps = {**hpa, "metric_name": "http_requests_per_second", "metric_target_type": "average"}
    assert registry.get_sample_value("kube_horizontalpodautoscaler_spec_target_metric", rps) == 50
    assert registry.get_sample_value("kube_horizontalpodautoscaler_status_target_metric", rps) == 65.5
    assert registry.get_sample_value("kube_node_status_condition",
                                     {"node": "node-1", "condition": "DiskPressure", "status": "unknown"}) == 1
    assert registry.get_sample_value("kube_node_status_allocatable",
                                     {"node": "node-1", "resource": "memory", "unit": "byte"}) == 7 * 2**30
    assert registry.get_sample_value("modelwatch_pod_container_cpu_usage_cores",
                                     {**ns, "pod": "model-service-7d9f-b", "container": "service"}) == 0.00125
    assert registry.get_sample_value("modelwatch_node_memory_working_set_bytes", {"node": "node-1"}) == 3 * 2**30


def test_scrapes_read_the_cache_instead_of_listing(api):
    registry = collected(KubernetesCollector(["modelwatch"], 3600, api.connect))
    registry.get_sample_value("kube_deployment_spec_replicas", {"namespace": "modelwatch", "deployment": "model-service"})
    listed = len(api.requests)
    for _ in range(5):
        registry.get_sample_value("kube_node_status_allocatable", {"node": "node-1", "resource": "cpu", "unit": "core"})
    assert len(api.requests) == listed  # five scrapes, no new list calls


def test_without_metrics_server_usage_is_absent_but_state_is_served(api):
    api.metrics_server = False
    registry = collected(KubernetesCollector(["modelwatch"], 3600, api.connect))
    assert registry.get_sample_value("kube_deployment_spec_replicas",
                                     {"namespace": "modelwatch", "deployment": "model-service"}) == 3
    assert registry.get_sample_value("modelwatch_node_cpu_usage_cores", {"node": "node-1"}) is None


def test_api_outage_gives_success_0_then_recovers(api):
    collector = KubernetesCollector(["modelwatch"], 3600, api.connect)
    registry = CollectorRegistry()
    registry.register(ScrapeCollector({"kubernetes": collector}, deadline_seconds=5))
    success = {"collector": "kubernetes"}
    assert registry.get_sample_value("modelwatch_scrape_collector_success", success) == 1
    api.down = True
    collector.refresh()  # what the background refresh does
    assert registry.get_sample_value("modelwatch_scrape_collector_success", success) == 0
    # the last good listing is still served
    assert registry.get_sample_value("kube_deployment_spec_replicas",
                                     {"namespace": "modelwatch", "deployment": "model-service"}) == 3
    api.down = False
    collector.refresh()
    assert registry.get_sample_value("modelwatch_scrape_collector_success", success) == 1


def test_a_silent_api_fails_the_refresh_after_the_timeout_and_the_cache_is_served_with_its_age(api):
    collector = KubernetesCollector(["modelwatch"], 3600, api.connect, request_timeout_seconds=0.5)
    registry = CollectorRegistry()
    registry.register(ScrapeCollector({"kubernetes": collector}, deadline_seconds=5))
    success = {"collector": "kubernetes"}
    assert registry.get_sample_value("modelwatch_scrape_collector_success", success) == 1
    api.stalled = True
    started = time.monotonic()
    collector.refresh()  # what the background refresh does: it must not block for good
    assert time.monotonic() - started < 5  # 0.5 s per attempt; twice the time seen here, and more
    assert registry.get_sample_value("modelwatch_scrape_collector_success", success) == 0
    assert registry.get_sample_value("kube_deployment_spec_replicas",
                                     {"namespace": "modelwatch", "deployment": "model-service"}) == 3


def test_a_refresh_that_never_completes_fails_the_collector_once_the_listing_is_too_old(api):
    collector = KubernetesCollector(["modelwatch"], 0.2, api.connect, request_timeout_seconds=0.2)
    collector.refresh()
    collector._thread = object()  # no background refresh: as if it were stuck
    assert list(collector.collect())
    time.sleep(0.5)  # older than refresh + timeout
    with pytest.raises(StaleCollection, match="no listing has completed") as failed:
        collector.collect()
    ages = [s.value for f in failed.value.metrics for s in f.samples
            if s.name == "modelwatch_kubernetes_cache_age_seconds"]
    assert ages and ages[0] > 0.4
