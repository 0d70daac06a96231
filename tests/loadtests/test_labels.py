"""The labels scenario's plan: which label is sent, and when the concept-drift switch flips it."""

from __future__ import annotations

import random

import pytest

from modelwatch.loadtests.labels import LabelPlan

CLASSES = ["setosa", "versicolor", "virginica"]


def test_without_concept_drift_every_label_is_the_truth():
    plan, rng = LabelPlan(), random.Random(1)
    assert all(plan.label(c, CLASSES, "classification", 1e6, rng) == c for c in CLASSES * 100)


def test_concept_drift_flips_its_share_of_labels_to_another_class_once_it_starts():
    plan, rng = LabelPlan(concept_drift=0.25, drift_after_seconds=60), random.Random(2)
    assert all(plan.label("setosa", CLASSES, "classification", 59.9, rng) == "setosa" for _ in range(1000))
    sent = [plan.label("setosa", CLASSES, "classification", 60, rng) for _ in range(4000)]
    flipped = [s for s in sent if s != "setosa"]
    assert len(flipped) / len(sent) == pytest.approx(0.25, abs=0.03)
    assert set(flipped) == {"versicolor", "virginica"}


def test_a_regressors_flipped_label_is_another_rows_value():
    values = [1.5, 2.5, 2.5, None, 9.0]
    plan, rng = LabelPlan(concept_drift=1.0), random.Random(3)
    assert {plan.label(2.5, values, "regression", 0, rng) for _ in range(200)} == {1.5, 9.0}
    assert plan.label(2.5, [2.5, None], "regression", 0, rng) == 2.5  # nothing else to flip to


def test_the_plan_travels_through_the_environment_and_refuses_nonsense():
    plan = LabelPlan(0.3, 2.0, 0.2, 120.0)
    assert LabelPlan.from_env(plan.to_env()) == plan
    assert LabelPlan.from_env({}) == LabelPlan()
    assert LabelPlan(share=0).problems() == ["--label-share must be over 0 and at most 1, not 0"]
    assert LabelPlan(concept_drift=1.5).problems() == ["--concept-drift must be 0 to 1, not 1.5"]
    assert LabelPlan().problems() == []
