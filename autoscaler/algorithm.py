"""The Kubernetes HPA algorithm, as the horizontal-pod-autoscale documentation
and the controller (pkg/controller/podautoscaler) describe it, with no I/O:

1. per metric, a replica proposal — ``ceil(current * value / target)``,
   unchanged within the tolerance (0.1); per-replica metrics set aside replicas
   with no sample or not ready, then count them as 100 % of target on scale
   down and 0 % on scale up, and give up when that flips the direction;
2. several metrics: the largest proposal; a metric that cannot be read only
   blocks scaling down (scaling up on the others still happens);
3. stabilization: scale up to the lowest recommendation of the up window,
   down to the highest of the down window (300 s by default);
4. rate limits: Pods and Percent policies per period, combined by
   ``select`` (Max: the most change allowed), then min / max replicas.

    >>> behavior = Behavior()
    >>> HpaState().decide(now=0, current=2, proposals=[MetricProposal.average(total=300, target=50, current=2)],
    ...                   spec=ScaleSpec(1, 10), behavior=behavior).desired
    6
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

TOLERANCE = 0.1


@dataclass(frozen=True)
class ReplicaSample:
    """One replica's metric value (None: missing) and readiness."""

    name: str
    value: float | None
    ready: bool = True


@dataclass(frozen=True)
class MetricProposal:
    """What one metric asks for: a replica count, or nothing when it could not be read."""

    name: str
    replicas: int | None
    value: float | None = None  # the metric's current per-replica value, for display
    target: float | None = None

    @staticmethod
    def average(total: float | None, target: float, current: int, name: str = "metric",
                tolerance: float = TOLERANCE) -> "MetricProposal":
        """A metric whose total is known (External / Object with AverageValue): ceil(total / target)."""
        if total is None or current <= 0:
            return MetricProposal(name, None, None, target)
        ratio = total / (target * current)
        replicas = current if abs(1.0 - ratio) <= tolerance else math.ceil(total / target)
        return MetricProposal(name, replicas, total / current, target)

    @staticmethod
    def per_replica(samples: Sequence[ReplicaSample], target: float, current: int, name: str = "metric",
                    tolerance: float = TOLERANCE) -> "MetricProposal":
        """A per-replica metric (Pods / Resource, AverageValue): missing and not-ready replicas handled as the HPA does."""
        # As the controller's calcPlainMetricReplicas: missing = no sample; unready = not ready (dropped
        # unless scaling up); the ratio is first computed over ready replicas with a sample.
        ready = [s.value for s in samples if s.ready and s.value is not None]
        missing = [s for s in samples if s.value is None]
        unready = [s for s in samples if not s.ready and s.value is not None]
        if not ready:
            return MetricProposal(name, None, None, target)
        average = sum(ready) / len(ready)
        ratio = average / target
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            replicas = current if abs(1.0 - ratio) <= tolerance else math.ceil(ratio * len(ready))
            return MetricProposal(name, replicas, average, target)
        values = list(ready)
        if missing:
            # Scaling down: a replica without a sample counts as exactly on target; scaling up: as idle.
            values += [target if ratio < 1.0 else 0.0] * len(missing)
        if scale_up_with_unready:
            values += [0.0] * len(unready)  # a replica still starting takes no share yet
        new_ratio = sum(values) / len(values) / target
        if abs(1.0 - new_ratio) <= tolerance or (ratio > 1.0 > new_ratio) or (ratio < 1.0 < new_ratio):
            return MetricProposal(name, current, average, target)  # the direction flipped: do nothing
        replicas = math.ceil(new_ratio * len(values))
        if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
            replicas = current
        return MetricProposal(name, replicas, average, target)


@dataclass(frozen=True)
class Policy:
    kind: str  # "Pods" or "Percent"
    value: int
    period_seconds: float


@dataclass(frozen=True)
class Rules:
    stabilization_seconds: float
    policies: tuple[Policy, ...]
    select: str = "Max"  # Max, Min or Disabled


@dataclass(frozen=True)
class Behavior:
    """autoscaling/v2 behavior; the defaults are Kubernetes'."""

    scale_up: Rules = Rules(0, (Policy("Percent", 100, 15), Policy("Pods", 4, 15)), "Max")
    scale_down: Rules = Rules(300, (Policy("Percent", 100, 15),), "Max")


@dataclass(frozen=True)
class ScaleSpec:
    min_replicas: int
    max_replicas: int


@dataclass(frozen=True)
class Decision:
    desired: int
    proposal: int | None  # the metrics' proposal before stabilization and limits (None: none readable)
    reason: str
    metrics: tuple[MetricProposal, ...] = ()


@dataclass
class HpaState:
    """What the controller remembers between syncs: recommendations and scale events."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[tuple[float, int]] = field(default_factory=list)  # (time, replicas added; negative: removed)

    def record_change(self, now: float, change: int) -> None:
        if change:
            self.events.append((now, change))

    def decide(self, now: float, current: int, proposals: Sequence[MetricProposal], spec: ScaleSpec,
               behavior: Behavior) -> Decision:
        readable = [p for p in proposals if p.replicas is not None]
        if not readable:
            # No metric at all: hold (never fall to the minimum on missing data).
            return Decision(self._clamp_only(current, spec), None, "no metric available: holding", tuple(proposals))
        proposal = max(p.replicas for p in readable)
        if len(readable) < len(proposals) and proposal <= current:
            return Decision(self._clamp_only(current, spec), proposal,
                            "a metric is unavailable: not scaling down", tuple(proposals))
        desired, reason = self._normalize(now, current, proposal, spec, behavior)
        return Decision(desired, proposal, reason, tuple(proposals))

    @staticmethod
    def _clamp_only(current: int, spec: ScaleSpec) -> int:
        return min(max(current, spec.min_replicas), spec.max_replicas)

    def _normalize(self, now: float, current: int, proposal: int, spec: ScaleSpec,
                   behavior: Behavior) -> tuple[int, str]:
        stabilized, reason = self._stabilize(now, current, proposal, behavior)
        if stabilized > current:
            limit = self._up_limit(now, current, behavior.scale_up)
            desired = min(stabilized, limit, spec.max_replicas)
            if desired < stabilized:
                reason = "scale up limited by policy" if limit < spec.max_replicas else "at the maximum"
        elif stabilized < current:
            limit = self._down_limit(now, current, behavior.scale_down)
            desired = max(stabilized, limit, spec.min_replicas)
            if desired > stabilized:
                reason = "scale down limited by policy" if limit > spec.min_replicas else "at the minimum"
        else:
            desired = stabilized
        desired = min(max(desired, spec.min_replicas), spec.max_replicas)
        return desired, reason

    def _stabilize(self, now: float, current: int, proposal: int, behavior: Behavior) -> tuple[int, str]:
        longest = max(behavior.scale_up.stabilization_seconds, behavior.scale_down.stabilization_seconds)
        self.recommendations = [(t, r) for t, r in self.recommendations if t > now - longest]
        up = down = proposal
        for stamp, replicas in self.recommendations:
            if stamp > now - behavior.scale_up.stabilization_seconds:
                up = min(up, replicas)
            if stamp > now - behavior.scale_down.stabilization_seconds:
                down = max(down, replicas)
        self.recommendations.append((now, proposal))
        recommendation = current
        if recommendation < up:
            recommendation = up
        if recommendation > down:
            recommendation = down
        if recommendation != proposal:
            return recommendation, "stabilization window"
        return recommendation, "metrics"

    def _added_since(self, start: float, sign: int) -> int:
        return sum(change for stamp, change in self.events if stamp > start and change * sign > 0)

    def _up_limit(self, now: float, current: int, rules: Rules) -> int:
        if rules.select == "Disabled":
            return current
        limits = []
        for policy in rules.policies:
            start_replicas = current - self._added_since(now - policy.period_seconds, +1)
            if policy.kind == "Pods":
                limits.append(start_replicas + policy.value)
            else:
                limits.append(math.ceil(start_replicas * (1 + policy.value / 100)))
        limit = max(limits) if rules.select == "Max" else min(limits)
        return max(limit, current)

    def _down_limit(self, now: float, current: int, rules: Rules) -> int:
        if rules.select == "Disabled":
            return current
        limits = []
        for policy in rules.policies:
            start_replicas = current - self._added_since(now - policy.period_seconds, -1)  # removals are negative
            if policy.kind == "Pods":
                limits.append(start_replicas - policy.value)
            else:
                limits.append(math.floor(start_replicas * (1 - policy.value / 100)))
        limit = min(limits) if rules.select == "Max" else max(limits)
        return min(limit, current)
