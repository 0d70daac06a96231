"""The report's quality section: figures from a confusion matrix as scikit-learn's, the alerts' judgement
of "worse", the table. (Against live Prometheus: tests/rules/test_live_quality.py.)"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from modelwatch.core.config import Config
from modelwatch.reports.quality import ModelQuality, chart_lines, classification_figures
from modelwatch.reports.report import quality_html


def test_accuracy_and_macro_f1_from_a_confusion_matrix_are_scikit_learns():
    rng = np.random.default_rng(3)
    actual = rng.choice(["a", "b", "c", "d"], 500)
    predicted = np.where(rng.random(500) < 0.7, actual, rng.choice(["a", "b", "c", "e"], 500))  # "e" never true
    figures = classification_figures(dict(Counter(zip(predicted, actual))))
    assert figures["accuracy"] == pytest.approx(accuracy_score(actual, predicted))
    assert figures["f1_macro"] == pytest.approx(f1_score(actual, predicted, average="macro"))
    assert classification_figures({}) == {}


def _scored(labels: float, **live) -> ModelQuality:
    return ModelQuality("m", "v1", labels, 0, 0.5, 30.0, live, {"accuracy": 0.9, "f1_macro": 0.9, "rmse": 10.0})


def test_worse_follows_the_alerts_margin_factor_and_minimum_labels():
    alerts = Config().alerts
    enough = alerts.quality_min_labels
    assert _scored(enough, accuracy=0.9 - alerts.quality_margin - 0.01, f1_macro=0.9).worse(alerts) == ["accuracy"]
    assert _scored(enough, accuracy=0.9 - alerts.quality_margin + 0.01, f1_macro=0.9).worse(alerts) == []
    assert _scored(enough - 1, accuracy=0.1, f1_macro=0.1).worse(alerts) == []  # too few labels to say
    assert _scored(enough, mae=1, rmse=10 * alerts.quality_error_factor + 0.1).worse(alerts) == ["rmse"]
    assert _scored(enough, mae=1, rmse=10 * alerts.quality_error_factor).worse(alerts) == []


def test_the_table_escapes_names_marks_worse_figures_and_says_when_no_label_came():
    config = Config()
    table = quality_html([ModelQuality("<m>", "v1", 500, 3, 0.25, 12.0, {"accuracy": 0.5, "f1_macro": 0.88},
                                       {"accuracy": 0.9, "f1_macro": 0.9})], config)
    assert "&lt;m&gt;" in table and "<m>" not in table
    assert "<td class='warning'>50.0% / 90.0%</td>" in table and "<td class=''>88.0% / 90.0%</td>" in table
    assert "<td>25.0%</td>" in table and "12 s" in table
    assert "No labels arrived" in quality_html([], config)


def test_the_chart_reads_what_the_alerts_read_and_quotes_the_model_name():
    live, reference = chart_lines('a"b', "classification")
    assert live[1] == 'model_version:model_accuracy:ratio10m{model_name="a\\"b"}'
    assert 'metric="accuracy"' in reference[1] and reference[2] == "--"
    assert chart_lines("d", "regression")[0][1].startswith("model_version:model_prediction_error:rmse10m")
