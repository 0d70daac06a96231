"""The HPA algorithm against the behaviours the Kubernetes documentation describes
(content/en/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale.md)."""

from __future__ import annotations

import pytest

from modelwatch.autoscaler.algorithm import Behavior, HpaState, MetricProposal, Policy, ReplicaSample, Rules, ScaleSpec

SPEC = ScaleSpec(1, 10)
NO_LIMITS = Behavior(scale_up=Rules(0, (Policy("Percent", 1000, 15),)), scale_down=Rules(0, (Policy("Percent", 100, 15),)))


def average(total, current, target=100.0):
    return MetricProposal.average(total, target, current)


def decide(current, *proposals, state=None, now=0.0, behavior=NO_LIMITS, spec=SPEC):
    return (state or HpaState()).decide(now, current, list(proposals), spec, behavior)


def test_desired_is_ceil_of_current_times_ratio():
    # The documentation's example: 200m against a 100m target doubles the replicas.
    assert decide(2, average(2 * 200, 2)).desired == 4
    assert decide(4, average(4 * 50, 4)).desired == 2
    assert decide(3, average(3 * 130, 3)).desired == 4  # ceil(3.9)


@pytest.mark.parametrize("value, expected", [(109, 10), (91, 10), (111, 12), (89, 9)])
def test_within_the_tolerance_of_ten_percent_nothing_changes(value, expected):
    assert decide(10, average(10 * value, 10), spec=ScaleSpec(1, 20)).desired == expected


def test_several_metrics_take_the_largest_proposal():
    got = decide(2, average(2 * 100, 2), average(2 * 300, 2), average(2 * 50, 2))
    assert got.desired == 6 and got.proposal == 6


def test_missing_samples_count_as_target_when_scaling_down_and_zero_when_scaling_up():
    down = MetricProposal.per_replica(
        [ReplicaSample("a", 50), ReplicaSample("b", 50), ReplicaSample("c", None)], 100, 3)
    assert down.replicas == 2  # (50 + 50 + 100) / 3 = 0.67 -> ceil(0.67 * 3)
    up = MetricProposal.per_replica(
        [ReplicaSample("a", 200), ReplicaSample("b", 200), ReplicaSample("c", None)], 100, 3)
    assert up.replicas == 4  # (200 + 200 + 0) / 3 = 1.33 -> ceil(1.33 * 3)


def test_when_filling_in_flips_the_direction_nothing_changes():
    flipped = MetricProposal.per_replica(
        [ReplicaSample("a", 150), ReplicaSample("b", None), ReplicaSample("c", None), ReplicaSample("d", None)], 100, 4)
    assert flipped.replicas == 4  # 150 alone says up; with three idle replicas the average is 37.5: down


def test_unready_replicas_count_as_idle_on_scale_up_and_are_ignored_on_scale_down():
    up = MetricProposal.per_replica(
        [ReplicaSample("a", 200), ReplicaSample("b", 200), ReplicaSample("c", 90, ready=False),
         ReplicaSample("d", 90, ready=False)], 100, 4)
    assert up.replicas == 4  # (200 + 200 + 0 + 0) / 4 = 1.0: within tolerance, hold
    down = MetricProposal.per_replica(
        [ReplicaSample("a", 20), ReplicaSample("b", 20), ReplicaSample("c", 500, ready=False)], 100, 3)
    assert down.replicas == 1  # only the ready ones: 0.2 * 2 -> 1


def test_no_metric_holds_the_current_count_instead_of_falling_to_the_minimum():
    unreadable = average(None, 5)
    got = decide(5, unreadable)
    assert got.desired == 5 and got.proposal is None and "holding" in got.reason


def test_an_unreadable_metric_blocks_scale_down_but_not_scale_up():
    assert decide(5, average(None, 5), average(5 * 20, 5)).desired == 5
    assert decide(5, average(None, 5), average(5 * 200, 5)).desired == 10


def test_scale_down_stabilization_uses_the_highest_recommendation_of_the_window():
    behavior = Behavior(scale_up=NO_LIMITS.scale_up, scale_down=Rules(300, (Policy("Percent", 100, 15),)))
    state = HpaState()
    assert decide(4, average(4 * 200, 4), state=state, now=0, behavior=behavior).desired == 8
    # Load falls: the window still holds the recommendation of 8.
    assert decide(8, average(8 * 25, 8), state=state, now=60, behavior=behavior).desired == 8
    assert decide(8, average(8 * 25, 8), state=state, now=299, behavior=behavior).desired == 8
    # 8 leaves the window after 300 s; the lower recommendations made since then (2) remain.
    assert decide(8, average(8 * 25, 8), state=state, now=301, behavior=behavior).desired == 2


def test_scale_up_stabilization_uses_the_lowest_recommendation_of_the_window():
    behavior = Behavior(scale_up=Rules(60, (Policy("Percent", 1000, 15),)), scale_down=NO_LIMITS.scale_down)
    state = HpaState()
    assert decide(2, average(2 * 100, 2), state=state, now=0, behavior=behavior).desired == 2
    assert decide(2, average(2 * 400, 2), state=state, now=30, behavior=behavior).desired == 2  # 2 is still in the window
    assert decide(2, average(2 * 400, 2), state=state, now=61, behavior=behavior).desired == 8


def test_default_scale_up_policies_allow_the_larger_of_doubling_and_four_pods():
    state = HpaState()
    assert decide(2, average(2 * 1000, 2), state=state, behavior=Behavior()).desired == 6  # max(4, 2 + 4)
    assert decide(10, average(10 * 1000, 10), behavior=Behavior(), spec=ScaleSpec(1, 100)).desired == 20  # max(20, 14)


def test_select_min_takes_the_smaller_limit_and_disabled_never_scales_that_way():
    behavior = Behavior(scale_up=Rules(0, (Policy("Percent", 100, 15), Policy("Pods", 4, 15)), "Min"))
    assert decide(2, average(2 * 1000, 2), behavior=behavior).desired == 4
    disabled = Behavior(scale_up=Rules(0, (Policy("Pods", 4, 15),), "Disabled"))
    assert decide(2, average(2 * 1000, 2), behavior=disabled).desired == 2


def test_policies_count_changes_already_made_in_the_period():
    behavior = Behavior(scale_up=Rules(0, (Policy("Pods", 2, 60),)), scale_down=NO_LIMITS.scale_down)
    state = HpaState()
    first = decide(2, average(2 * 1000, 2), state=state, now=0, behavior=behavior).desired
    assert first == 4
    state.record_change(0, first - 2)
    assert decide(4, average(4 * 1000, 4), state=state, now=30, behavior=behavior).desired == 4  # 2 already added
    assert decide(4, average(4 * 1000, 4), state=state, now=61, behavior=behavior).desired == 6  # a new period


def test_scale_down_policy_of_one_pod_per_period():
    behavior = Behavior(scale_up=NO_LIMITS.scale_up, scale_down=Rules(0, (Policy("Pods", 1, 60),)))
    state = HpaState()
    assert decide(6, average(6 * 10, 6), state=state, now=0, behavior=behavior).desired == 5
    state.record_change(0, -1)
    assert decide(5, average(5 * 10, 5), state=state, now=30, behavior=behavior).desired == 5
    assert decide(5, average(5 * 10, 5), state=state, now=61, behavior=behavior).desired == 4


def test_min_and_max_bound_the_result():
    assert decide(3, average(3 * 1000, 3), spec=ScaleSpec(1, 5)).desired == 5
    assert decide(3, average(0, 3), spec=ScaleSpec(2, 5)).desired == 2
    assert decide(1, average(None, 1), spec=ScaleSpec(2, 5)).desired == 2  # holding still respects the bounds
