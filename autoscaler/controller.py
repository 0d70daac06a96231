"""The control loop: every ``autoscaler.sync_period_seconds``, read the metric
from Prometheus, let the HPA algorithm decide, scale the backend, and keep
the state that ``/metrics`` shows in kube-state-metrics' HPA shape."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from modelwatch.autoscaler.algorithm import Behavior, Decision, HpaState, MetricProposal, Policy, ReplicaSample, Rules, ScaleSpec
from modelwatch.autoscaler.backends import Replica
from modelwatch.core.queries import ScalingMetric, scaling_metric
from modelwatch.core.config import AutoscalerConfig, Config
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.prometheus_api import PrometheusUnavailable

log = logging.getLogger("modelwatch.autoscaler")
HPA_LABELS = ["namespace", "horizontalpodautoscaler"]


class Backend(Protocol):
    def replicas(self) -> list[Replica]: ...
    def scale_to(self, replicas: int) -> None: ...


class MetricSource(Protocol):
    def query(self, expr: str): ...


def behavior_from(scaler: AutoscalerConfig) -> Behavior:
    return Behavior(
        scale_up=Rules(scaler.scale_up_stabilization_seconds, (
            Policy("Percent", scaler.scale_up_percent, scaler.scale_up_period_seconds),
            Policy("Pods", scaler.scale_up_pods, scaler.scale_up_period_seconds),
        )),
        scale_down=Rules(scaler.scale_down_stabilization_seconds, (
            Policy("Percent", scaler.scale_down_percent, scaler.scale_down_period_seconds),
        )),
    )


@dataclass
class Status:
    current: int = 0
    desired: int = 0
    value: float | None = None  # the metric per replica
    metric_available: bool = False
    reason: str = "not synced yet"
    events: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0})
    last_scale: float = 0.0
    last_sync: float = 0.0


class Controller:
    def __init__(self, config: Config, backend: Backend, prometheus: MetricSource, clock: Callable[[], float] = time.time):
        self.scaler = config.autoscaler
        self.metric: ScalingMetric = scaling_metric(config)
        self.spec = ScaleSpec(self.scaler.min_replicas, self.scaler.max_replicas)
        self.behavior = behavior_from(self.scaler)
        self.backend, self.prometheus, self.clock = backend, prometheus, clock
        self.state = HpaState()
        self.status = Status()

    def _proposal(self, now: float, replicas: list[Replica]) -> MetricProposal:
        current, metric = len(replicas), self.metric
        try:
            samples = self.prometheus.query(metric.query)
        except PrometheusUnavailable as exc:
            log.warning("metric unavailable: %s", exc)
            return MetricProposal(metric.name, None, None, metric.target)
        # NaN (0/0 of an idle rate) or an infinity says nothing about load: such a sample counts as missing.
        samples = [s for s in samples if math.isfinite(s.value)]
        if not metric.per_replica:
            total = samples[0].value if samples else None  # no series at all: missing, not zero
            return MetricProposal.average(total, metric.target, current, metric.name, self.scaler.tolerance)
        by_replica = {s.labels.get("replica"): s.value for s in samples}
        replica_samples = [
            ReplicaSample(r.name, by_replica.get(r.name), ready=now - r.started >= self.scaler.readiness_delay_seconds)
            for r in replicas
        ]
        return MetricProposal.per_replica(replica_samples, metric.target, current, metric.name, self.scaler.tolerance)

    def sync(self) -> Decision:
        now = self.clock()
        replicas = self.backend.replicas()
        current = len(replicas)
        proposal = self._proposal(now, replicas)
        decision = self.state.decide(now, current, [proposal], self.spec, self.behavior)
        # The decision is published before it is acted on, as an HPA writes its status before the
        # Deployment scales: whoever watches sees the decision no later than the new replicas.
        self.status.desired = decision.desired
        if decision.desired != current:
            self.backend.scale_to(decision.desired)
            self.state.record_change(now, decision.desired - current)
            direction = "up" if decision.desired > current else "down"
            self.status.events[direction] += 1
            self.status.last_scale = now
            log.info("scaled %s from %d to %d replicas (%s; %s per replica %s, target %g)", direction, current,
                     decision.desired, decision.reason, self.metric.name, _fmt(proposal.value), self.metric.target)
        self.status.current = decision.desired
        self.status.value = proposal.value
        self.status.metric_available = proposal.replicas is not None
        self.status.reason = decision.reason
        self.status.last_sync = now
        return decision

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.sync()
            except ModelwatchError as exc:  # the service is down or would not scale: try again next period
                self.status.reason = str(exc)
                log.warning("%s", exc)
            stop.wait(max(0.0, self.scaler.sync_period_seconds - (time.monotonic() - started)))

    # -- /metrics -------------------------------------------------------------------------
    def collect(self) -> Iterable:
        labels = [self.scaler.namespace, self.scaler.name]
        status, metric = self.status, self.metric

        def gauge(name: str, text: str, value: float, extra: dict[str, str] | None = None):
            family = GaugeMetricFamily(name, text, labels=HPA_LABELS + list(extra or {}))
            family.add_metric(labels + list((extra or {}).values()), value)
            return family

        yield gauge("kube_horizontalpodautoscaler_spec_min_replicas", "Lower replica limit.", self.spec.min_replicas)
        yield gauge("kube_horizontalpodautoscaler_spec_max_replicas", "Upper replica limit.", self.spec.max_replicas)
        yield gauge("kube_horizontalpodautoscaler_status_current_replicas", "Current replicas.", status.current)
        yield gauge("kube_horizontalpodautoscaler_status_desired_replicas", "Replicas the autoscaler wants.",
                    status.desired)
        target = {"metric_name": metric.name, "metric_target_type": "average"}
        yield gauge("kube_horizontalpodautoscaler_spec_target_metric", "Target of the autoscaling metric, per replica.",
                    metric.target, target)
        current = GaugeMetricFamily("kube_horizontalpodautoscaler_status_target_metric",
                                    "Current value of the autoscaling metric, per replica.", labels=HPA_LABELS + list(target))
        if status.value is not None:
            current.add_metric(labels + list(target.values()), status.value)
        yield current
        yield gauge("modelwatch_autoscaler_metric_available",
                    "1 when the last sync could read the metric; 0: holding the replica count.",
                    1.0 if status.metric_available else 0.0)
        events = CounterMetricFamily("modelwatch_autoscaler_scaling_events", "Scaling actions taken, by direction.",
                                     labels=HPA_LABELS + ["direction"])
        for direction, count in status.events.items():
            events.add_metric(labels + [direction], count)
        yield events
        yield gauge("modelwatch_autoscaler_last_scale_timestamp_seconds", "When it last changed the replicas (Unix time).",
                    status.last_scale)
        yield gauge("modelwatch_autoscaler_last_sync_timestamp_seconds", "When it last ran its loop (Unix time).",
                    status.last_sync)


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.3g}"
