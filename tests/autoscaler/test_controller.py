"""The control loop with an in-memory backend and metric source: it scales on
the metric, holds on missing data and says so, and exports kube-state-metrics'
HPA series."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from modelwatch.autoscaler.backends import Replica
from modelwatch.autoscaler.controller import Controller
from modelwatch.core.config import load_config
from modelwatch.core.prometheus_api import PrometheusUnavailable, Sample
from tests.model_service.test_metrics import catalogue


class Workers:
    def __init__(self, count: int, started: float = 0.0):
        self.list = [Replica(str(100 + i), started) for i in range(count)]
        self.calls: list[int] = []

    def replicas(self):
        return list(self.list)

    def scale_to(self, replicas: int):
        self.calls.append(replicas)
        while len(self.list) < replicas:
            self.list.append(Replica(str(100 + len(self.list)), 1e12))
        del self.list[replicas:]


class Metric:
    def __init__(self):
        self.answer: list[Sample] | Exception = []
        self.queries: list[str] = []

    def query(self, expr):
        self.queries.append(expr)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def controller(metric="requests", **settings):
    env = {"MODELWATCH_AUTOSCALER__METRIC": metric, "MODELWATCH_AUTOSCALER__MAX_REPLICAS": "8"}
    env.update({f"MODELWATCH_AUTOSCALER__{k.upper()}": str(v) for k, v in settings.items()})
    config = load_config(env=env)
    clock = [1000.0]
    workers, source = Workers(2), Metric()
    return Controller(config, workers, source, clock=lambda: clock[0]), workers, source, clock


def scrape(ctrl) -> dict[str, list]:
    registry = CollectorRegistry()
    registry.register(ctrl)
    families = text_string_to_metric_families(generate_latest(registry).decode())
    return {f.name: [(s.labels, s.value) for s in f.samples] for f in families}


def test_scales_up_on_the_request_rate_and_exports_the_hpa_shape():
    ctrl, workers, source, _ = controller()
    source.answer = [Sample({}, 200.0)]  # 200 requests/s against a target of 40 per replica
    decision = ctrl.sync()
    assert decision.desired == 5 and workers.calls == [5]
    assert source.queries[0] == ctrl.metric.query  # HTTP API requests and gRPC ModelInfer calls
    assert 'http_server_request_duration_seconds_count{job="model-service"' in source.queries[0]
    assert 'rpc_server_duration_milliseconds_count{job="model-service"' in source.queries[0]
    series = scrape(ctrl)
    hpa = {"namespace": "local", "horizontalpodautoscaler": "model-service"}
    assert series["kube_horizontalpodautoscaler_status_current_replicas"] == [(hpa, 5.0)]
    assert series["kube_horizontalpodautoscaler_spec_max_replicas"] == [(hpa, 8.0)]
    target = {**hpa, "metric_name": "http_server_requests_per_second", "metric_target_type": "average"}
    assert series["kube_horizontalpodautoscaler_spec_target_metric"] == [(target, 40.0)]
    assert series["kube_horizontalpodautoscaler_status_target_metric"] == [(target, 100.0)]  # 200 over 2 replicas
    assert series["modelwatch_autoscaler_metric_available"] == [(hpa, 1.0)]
    assert ({**hpa, "direction": "up"}, 1.0) in series["modelwatch_autoscaler_scaling_events"]


def test_holds_when_prometheus_is_unreachable_and_says_so():
    ctrl, workers, source, _ = controller()
    source.answer = PrometheusUnavailable("Prometheus at http://127.0.0.1:9090 did not answer (ConnectionError)")
    decision = ctrl.sync()
    assert decision.desired == 2 and workers.calls == []
    assert "holding" in decision.reason
    assert scrape(ctrl)["modelwatch_autoscaler_metric_available"][0][1] == 0.0


def test_no_series_is_missing_data_not_zero_load():
    ctrl, workers, source, _ = controller(min_replicas=1)
    source.answer = []  # the service has not been scraped yet: not a reason to scale to 1
    assert ctrl.sync().desired == 2 and workers.calls == []


@pytest.mark.parametrize("metric", ["requests", "cpu"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_sample_is_missing_data_and_the_replicas_hold(metric, value):
    ctrl, workers, source, _ = controller(metric, min_replicas=1)
    source.answer = [Sample({"replica": r.name}, value) for r in workers.list]
    decision = ctrl.sync()
    assert decision.desired == 2 and workers.calls == [] and "holding" in decision.reason
    assert scrape(ctrl)["modelwatch_autoscaler_metric_available"][0][1] == 0.0


def test_scale_down_waits_for_the_stabilization_window():
    ctrl, workers, source, clock = controller(scale_down_stabilization_seconds=60)
    source.answer = [Sample({}, 300.0)]
    assert ctrl.sync().desired == 6  # 8 wanted; from 2, the policies allow max(2 * 2, 2 + 4) = 6
    source.answer = [Sample({}, 10.0)]
    clock[0] += 30
    assert ctrl.sync().desired == 6  # the window still holds the recommendation of 8
    clock[0] += 31
    assert ctrl.sync().desired == 1
    assert workers.calls == [6, 1]


def test_cpu_metric_treats_young_replicas_as_not_ready():
    ctrl, workers, source, clock = controller(metric="cpu", readiness_delay_seconds=30)
    workers.list = [Replica("100", 0.0), Replica("101", 0.0), Replica("102", clock[0] - 5)]  # 102 is 5 s old
    source.answer = [Sample({"replica": "100"}, 1.2), Sample({"replica": "101"}, 1.2), Sample({"replica": "102"}, 0.9),
                     Sample({"replica": "999"}, 0.01)]  # 999: the gunicorn master, not a replica
    # ready ones at 1.2 cores vs 0.6: up; the young one counts as 0: (1.2 + 1.2 + 0) / 3 / 0.6 = 1.33 -> 4
    assert ctrl.sync().desired == 4


def test_catalogue_lists_exactly_the_series_served():
    ctrl, _, source, _ = controller()
    source.answer = [Sample({}, 50.0)]
    ctrl.sync()
    registry = CollectorRegistry()
    registry.register(ctrl)
    served = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        name = family.name + ("_total" if family.type == "counter" else "")
        served[name] = (family.type, {k for s in family.samples for k in s.labels})
    assert catalogue("Autoscaler") == served


def test_the_decision_is_published_before_the_backend_acts_on_it():
    ctrl, workers, source, _ = controller()
    seen = []
    real_scale_to = workers.scale_to

    def watching_scale_to(replicas):  # what a scrape during a slow scale-up would show
        seen.append(dict((labels.get("horizontalpodautoscaler"), value) for labels, value
                         in scrape(ctrl)["kube_horizontalpodautoscaler_status_desired_replicas"]))
        real_scale_to(replicas)

    workers.scale_to = watching_scale_to
    source.answer = [Sample({}, 200.0)]  # 200 requests/s, target 40 per replica: 5 replicas
    ctrl.sync()
    assert workers.calls == [5] and list(seen[0].values()) == [5]
