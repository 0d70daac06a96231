"""Labels joined for real: predictions made by one gunicorn service, labels sent
after it was restarted (so to other workers of another process), and the live
quality a real Prometheus records from them equal to scikit-learn's on the same
rows: accuracy and macro-F1 for a classifier, RMSE for a regressor; the
report's quality section (computed from the counters over its range) too."""

from __future__ import annotations

import math
import time

import pytest
import requests
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error

from modelwatch.core.prometheus_api import PrometheusApi
from modelwatch.reports.report import build as build_report, to_html

from tests.conftest import make_config
from tests.exporter.served import run_exporter
from tests.model_service.served import free_port, serve
from tests.own_models import register_all, request_rows
from tests.prometheus_server import run_prometheus, wait_for

pytestmark = pytest.mark.integration
PATIENCE = 240  # seconds: the quality records are evaluated once a minute


def _predict(service: str, key: str, model: str, rows: list[dict]) -> list[dict]:
    predictions = []
    for start in range(0, len(rows), 10):  # several requests on new connections: both workers answer
        answer = requests.post(f"{service}/api/v1/models/{model}/predict", json={"instances": rows[start:start + 10]},
                               headers={"X-API-Key": key, "Connection": "close"}, timeout=30)
        assert answer.status_code == 200, answer.text
        predictions += answer.json()["predictions"]
    return predictions


def _send(service: str, key: str, model: str, items: list[dict]) -> list[str]:
    outcomes = []
    for start in range(0, len(items), 25):
        answer = requests.post(f"{service}/api/v1/models/{model}/feedback", json={"feedback": items[start:start + 25]},
                               headers={"X-API-Key": key, "Connection": "close"}, timeout=30)
        assert answer.status_code == 200, answer.text
        outcomes += [r["outcome"] for r in answer.json()["results"]]
    return outcomes


def _value(result: list[dict], model: str) -> float | None:
    found = [float(r["value"][1]) for r in result if r["metric"]["model_name"] == model]
    return found[0] if found else None


def test_labels_sent_after_a_restart_give_the_quality_scikit_learn_computes(state_dir, keys, models, tmp_path):
    config = make_config(state_dir)
    register_all(config, models, ("penguins", "diabetes"))
    key, port = keys["user"], free_port()
    tests = {name: models[name]["test"] for name in ("penguins", "diabetes")}
    with serve(state_dir, workers=2, port=port) as (service, _):
        predictions = {name: _predict(service, key, name, request_rows(models[name])) for name in tests}
    actual = {"penguins": [str(v) for v in tests["penguins"]["species"]],
              "diabetes": [float(v) for v in tests["diabetes"]["progression"]]}

    with serve(state_dir, workers=2, port=port) as (service, _), \
            run_exporter(state_dir, ('model_name="diabetes"', 'model_name="penguins"')) as (exporter, _):
        prom_config = make_config(state_dir, SERVICE__PORT=port, EXPORTER__PORT=exporter.rsplit(":", 1)[1],
                                  PROMETHEUS__SCRAPE_INTERVAL_SECONDS=1, PROMETHEUS__EVALUATION_INTERVAL_SECONDS=1)
        with run_prometheus(prom_config, tmp_path) as prometheus:
            # The counters are scraped at zero first, so the labels show as an increase.
            wait_for(prometheus, 'model_confusion_total{model_name="penguins"}', lambda r: len(r) > 0, timeout=PATIENCE)
            wait_for(prometheus, 'model_prediction_squared_error_total{model_name="diabetes"}', lambda r: len(r) > 0,
                     timeout=PATIENCE)
            started = time.time()
            items = {"penguins": [{"id": p["prediction_id"], "label": a}
                                  for p, a in zip(predictions["penguins"], actual["penguins"])],
                     "diabetes": [{"id": p["prediction_id"], "value": a}
                                  for p, a in zip(predictions["diabetes"], actual["diabetes"])]}
            for name, sent in items.items():
                assert set(_send(service, key, name, sent)) == {"accepted"}
                assert set(_send(service, key, name, sent[:5])) == {"duplicate"}  # again: not counted twice

            penguins_predicted = [p["class"] for p in predictions["penguins"]]
            accuracy = accuracy_score(actual["penguins"], penguins_predicted)
            macro_f1 = f1_score(actual["penguins"], penguins_predicted, average="macro")
            rmse = math.sqrt(mean_squared_error(actual["diabetes"], [p["value"] for p in predictions["diabetes"]]))

            recorded = wait_for(prometheus, "model_version:model_accuracy:ratio10m",
                                lambda r: _value(r, "penguins") is not None, timeout=PATIENCE)
            assert _value(recorded, "penguins") == pytest.approx(accuracy, abs=1e-9)
            recorded = wait_for(prometheus, "model_version:model_f1_macro:ratio10m",
                                lambda r: _value(r, "penguins") is not None, timeout=PATIENCE)
            assert _value(recorded, "penguins") == pytest.approx(macro_f1, abs=1e-9)
            recorded = wait_for(prometheus, "model_version:model_prediction_error:rmse10m",
                                lambda r: _value(r, "diabetes") is not None, timeout=PATIENCE)
            assert _value(recorded, "diabetes") == pytest.approx(rmse, rel=1e-9)
            duplicates = wait_for(prometheus, 'sum by (model_name) (model_feedback_total{outcome="duplicate"})',
                                  lambda r: _value(r, "diabetes") == 5, timeout=PATIENCE)
            assert _value(duplicates, "penguins") == 5
            report = build_report(config, PrometheusApi(prometheus), started, time.time())

    scored = {m.model: m for m in report.quality}
    assert set(scored) == {"penguins", "diabetes"}
    penguins, diabetes = scored["penguins"], scored["diabetes"]
    # Counted, not extrapolated as increase() would (13 % over in one CI run): the counts are exact.
    assert penguins.live["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert penguins.live["f1_macro"] == pytest.approx(macro_f1, abs=1e-6)
    assert diabetes.live["rmse"] == pytest.approx(rmse, rel=1e-6)
    assert diabetes.live["mae"] == pytest.approx(
        mean_absolute_error(actual["diabetes"], [p["value"] for p in predictions["diabetes"]]), rel=1e-6)
    assert penguins.labels == len(actual["penguins"]) and diabetes.labels == len(actual["diabetes"])
    assert penguins.refused == 5 and diabetes.refused == 5
    assert set(penguins.reference) == {"accuracy", "f1_macro"} and set(diabetes.reference) == {"mae", "rmse"}
    assert report.summary["quality below the reference"] == "none"
    assert len(report.quality_images) == 2
    assert f"{accuracy:.1%} / {penguins.reference['accuracy']:.1%}" in to_html(report, config)
