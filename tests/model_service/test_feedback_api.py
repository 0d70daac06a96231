"""POST /api/v1/models/NAME/feedback through the app: labels joined to the ids
the service issued, counted once, and turned into the confusion matrix or the
error sums that accuracy and RMSE are computed from in PromQL; bad input is a
clear 4xx that counts nothing."""

from __future__ import annotations

import math
import time

import pytest
from prometheus_client import CollectorRegistry
from sklearn.metrics import confusion_matrix, mean_squared_error

from modelwatch.core.errors import ConfigError
from modelwatch.model_service.app import create_app
from modelwatch.model_service.label_budget import LabelBudget
from modelwatch.model_service.registration import Request, register
from tests.conftest import make_config
from tests.model_service.openapi_check import check_response
from tests.own_models import register_all, trusted_types


@pytest.fixture
def served(config, keys, models):
    register_all(config, models, ("penguins", "diabetes"))
    metrics = CollectorRegistry()
    app = create_app(config, registry=metrics, watch=False)
    app.testing = True
    return app, app.test_client(), {"X-API-Key": keys["user"]}, metrics


def sample(app, metrics, name, labels):
    app.extensions["modelwatch"]["metrics"].flush()
    return metrics.get_sample_value(name, labels) or 0.0


def predict(client, headers, model, rows):
    answer = client.post(f"/api/v1/models/{model}/predict", headers=headers, json={"instances": rows})
    assert answer.status_code == 200, answer.json
    return answer.json["predictions"]


def rows_of(frame, target):
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items() if k != target}
            for row in frame.to_dict("records")]


def send(client, headers, model, items):
    return client.post(f"/api/v1/models/{model}/feedback", headers=headers, json={"feedback": items})


def test_a_classifiers_labels_become_the_confusion_matrix_scikit_learn_computes(served, models):
    app, client, headers, metrics = served
    test = models["penguins"]["test"]
    predictions = predict(client, headers, "penguins", rows_of(test, "species"))
    actual = [str(a) for a in test["species"]]
    answer = send(client, headers, "penguins", [{"id": p["prediction_id"], "label": a}
                                                for p, a in zip(predictions, actual)])
    assert answer.status_code == 200, answer.json
    check_response("POST", "/api/v1/models/penguins/feedback", answer)
    assert answer.json["accepted"] == len(actual)
    classes = sorted(set(actual) | {p["class"] for p in predictions})
    expected = confusion_matrix(actual, [p["class"] for p in predictions], labels=classes)
    for i, truth in enumerate(classes):
        for j, predicted in enumerate(classes):
            counted = sample(app, metrics, "model_confusion_total", {
                "model_name": "penguins", "model_version": "v1", "predicted": predicted, "actual": truth})
            assert counted == expected[i, j], (truth, predicted)
    labels = {"model_name": "penguins", "model_version": "v1"}
    for i, truth in enumerate(classes):
        assert sample(app, metrics, "model_correct_predictions_total", {**labels, "class": truth}) == expected[i, i]
    assert sample(app, metrics, "model_feedback_total", {**labels, "outcome": "accepted"}) == len(actual)
    assert sample(app, metrics, "model_label_delay_seconds_count", labels) == len(actual)
    assert sample(app, metrics, "model_label_delay_seconds_bucket", {**labels, "le": "60.0"}) == len(actual)


def test_a_regressors_labels_give_the_rmse_scikit_learn_computes(served, models):
    app, client, headers, metrics = served
    test = models["diabetes"]["test"]
    predictions = predict(client, headers, "diabetes", rows_of(test, "progression"))
    actual = test["progression"].tolist()
    answer = send(client, headers, "diabetes", [{"id": p["prediction_id"], "value": a}
                                                for p, a in zip(predictions, actual)])
    assert answer.status_code == 200 and answer.json["accepted"] == len(actual), answer.json
    labels = {"model_name": "diabetes", "model_version": "v1"}
    count = sample(app, metrics, "model_prediction_absolute_error_count", labels)
    rmse = math.sqrt(sample(app, metrics, "model_prediction_squared_error_total", labels) / count)
    predicted = [p["value"] for p in predictions]
    assert rmse == pytest.approx(math.sqrt(mean_squared_error(actual, predicted)), rel=1e-9)
    mae = sample(app, metrics, "model_prediction_absolute_error_sum", labels) / count
    assert mae == pytest.approx(sum(abs(p - a) for p, a in zip(predicted, actual)) / len(actual), rel=1e-9)
    # The signed histogram has negative buckets, so no _sum (OpenMetrics); its buckets tell the bias.
    too_high = count - sample(app, metrics, "model_prediction_signed_error_bucket", {**labels, "le": "0.0"})
    assert too_high == sum(p - a > 0 for p, a in zip(predicted, actual))


def test_duplicates_unknown_and_expired_ids_are_answered_per_item_and_counted(served):
    app, client, headers, metrics = served
    [first, second] = predict(client, headers, "penguins", [
        {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "body_mass_g": 3750,
         "island": "Torgersen", "sex": "male"}] * 2)
    ids = app.extensions["modelwatch"]["prediction_ids"]
    old = ids.issue("penguins", "v1", "Adelie", issued=time.time() - 15 * 86400)
    of_iris = ids.issue("iris", "v1", "Iris setosa")
    assert send(client, headers, "penguins", [{"id": first["prediction_id"], "label": "Adelie"}]).json["accepted"] == 1
    answer = send(client, headers, "penguins", [
        {"id": first["prediction_id"], "label": "Gentoo"},  # labelled before
        {"id": "forged.signature", "label": "Adelie"},
        {"id": old, "label": "Adelie"},
        {"id": of_iris, "label": "Adelie"},
        {"id": second["prediction_id"], "label": "Gentoo"},
    ])
    assert answer.status_code == 200
    check_response("POST", "/api/v1/models/penguins/feedback", answer)
    assert [r["outcome"] for r in answer.json["results"]] == ["duplicate", "unknown_id", "expired", "unknown_id",
                                                               "accepted"]
    assert answer.json["accepted"] == 1 and "14 days" in answer.json["results"][2]["reason"]
    counted = {outcome: sample(app, metrics, "model_feedback_total",
                               {"model_name": "penguins", "model_version": version, "outcome": outcome})
               for outcome, version in (("accepted", "v1"), ("duplicate", "v1"), ("expired", "v1"),
                                        ("unknown_id", ""))}
    assert counted == {"accepted": 2, "duplicate": 1, "expired": 1, "unknown_id": 2}
    # the duplicate's label was not counted into the matrix: one Adelie, one Gentoo, as sent first
    assert sample(app, metrics, "model_confusion_total", {"model_name": "penguins", "model_version": "v1",
                                                          "predicted": "Adelie", "actual": "Gentoo"}) == 1


def test_a_bad_item_refuses_the_request_names_it_and_counts_nothing(served):
    app, client, headers, metrics = served
    [prediction] = predict(client, headers, "penguins", [{"bill_length_mm": 39.1, "bill_depth_mm": 18.7,
                                                         "flipper_length_mm": 181, "body_mass_g": 3750,
                                                         "island": "Torgersen", "sex": "male"}])
    answer = send(client, headers, "penguins", [{"id": prediction["prediction_id"], "label": "Adelie"},
                                                {"id": prediction["prediction_id"], "label": "Emperor"}])
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "invalid_feedback" and answer.json["error"]["field"] == "feedback[1]"
    assert "Emperor" in answer.json["error"]["message"]
    labels = {"model_name": "penguins", "model_version": "v1"}
    assert sample(app, metrics, "model_feedback_total", {**labels, "outcome": "accepted"}) == 0
    assert sample(app, metrics, "model_feedback_total",
                  {"model_name": "penguins", "model_version": "", "outcome": "invalid"}) == 1
    # nothing was recorded: the same id is still accepted afterwards
    again = send(client, headers, "penguins", [{"id": prediction["prediction_id"], "label": "Adelie"}])
    assert again.json["accepted"] == 1


@pytest.mark.parametrize("body, status, code", [
    ({"feedback": []}, 400, "invalid_feedback"),
    ({"feedback": "x"}, 400, "invalid_feedback"),
    (7, 400, "invalid_feedback"),
    ({"feedback": [{"id": "x", "label": "Adelie"}] * 1001}, 413, "batch_too_large"),
])
def test_bodies_that_are_not_feedback_are_4xx(served, body, status, code):
    _, client, headers, _ = served
    answer = client.post("/api/v1/models/penguins/feedback", headers=headers, json=body)
    assert (answer.status_code, answer.json["error"]["code"]) == (status, code)


def test_feedback_needs_a_key_and_a_registered_model(served):
    _, client, headers, _ = served
    assert client.post("/api/v1/models/penguins/feedback", json={"feedback": [{"id": "x"}]}).status_code == 401
    unknown = client.post("/api/v1/models/nosuch/feedback", headers=headers, json={"feedback": [{"id": "x"}]})
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "unknown_model"


def test_a_single_item_or_a_bare_list_is_taken_too(served):
    app, client, headers, _ = served
    ids = app.extensions["modelwatch"]["prediction_ids"]
    single = client.post("/api/v1/models/diabetes/feedback", headers=headers,
                         json={"id": ids.issue("diabetes", "v1", 120.0), "value": 100})
    listed = client.post("/api/v1/models/diabetes/feedback", headers=headers,
                         json=[{"id": ids.issue("diabetes", "v1", 90.0), "value": 100}])
    assert single.json["accepted"] == listed.json["accepted"] == 1


def test_labels_for_a_version_no_longer_loaded_are_still_taken(served, config, models):
    app, client, headers, metrics = served
    ids = app.extensions["modelwatch"]["prediction_ids"]
    item = models["penguins"]
    register(config, Request("penguins", item["artifact"], item["reference"], item["target"],
                             trusted_types=trusted_types(item)))  # v2: registered, never loaded here
    answer = send(client, headers, "penguins", [{"id": ids.issue("penguins", "v2", "Gentoo"), "label": "Gentoo"},
                                                {"id": ids.issue("penguins", "v7", "Gentoo"), "label": "Gentoo"}])
    assert [r["outcome"] for r in answer.json["results"]] == ["accepted", "unknown_id"]
    assert sample(app, metrics, "model_confusion_total", {"model_name": "penguins", "model_version": "v2",
                                                          "predicted": "Gentoo", "actual": "Gentoo"}) == 1


def test_an_unusable_record_of_labels_is_a_503_that_counts_nothing(served, config):
    app, client, headers, metrics = served
    ids = app.extensions["modelwatch"]["prediction_ids"]
    path = config.paths.labelled_ids_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a database")
    answer = send(client, headers, "penguins", [{"id": ids.issue("penguins", "v1", "Adelie"), "label": "Adelie"}])
    assert answer.status_code == 503 and answer.json["error"]["code"] == "feedback_unavailable"
    assert "send it again later" in answer.json["error"]["message"] and "\n" not in answer.json["error"]["message"]
    assert sample(app, metrics, "model_feedback_total",
                  {"model_name": "penguins", "model_version": "v1", "outcome": "accepted"}) == 0


def test_labels_beyond_the_workers_budget_are_a_429_that_takes_nothing_until_retried(served):
    app, client, headers, metrics = served
    ids = app.extensions["modelwatch"]["prediction_ids"]
    now = [0.0]
    app.extensions["modelwatch"]["tabular"].label_budget = LabelBudget(2, clock=lambda: now[0])
    items = [{"id": ids.issue("penguins", "v1", "Adelie"), "label": "Adelie"} for _ in range(3)]
    assert send(client, headers, "penguins", items[:1]).json["accepted"] == 1  # 2 -> 1
    assert send(client, headers, "penguins", items[1:2]).json["accepted"] == 1  # 1 -> 0: over budget now
    refused = send(client, headers, "penguins", items[2:])
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    check_response("POST", "/api/v1/models/penguins/feedback", refused)
    error = refused.json["error"]
    assert error["code"] == "feedback_throttled" and "feedback.max_labels_per_second" in error["message"]
    assert "nothing of this request was taken" in error["message"] and "\n" not in error["message"]
    assert sample(app, metrics, "model_feedback_throttled_requests_total", {"model_name": "penguins"}) == 1
    unread = client.post("/api/v1/models/penguins/feedback", headers=headers, data="{not json",
                         content_type="application/json")
    assert unread.status_code == 429  # refused before its body is read: a refused flood costs no parsing
    now[0] += 1
    again = send(client, headers, "penguins", items[2:])  # the very request, as the Retry-After said
    assert again.status_code == 200 and [r["outcome"] for r in again.json["results"]] == ["accepted"]
    assert sample(app, metrics, "model_feedback_total",
                  {"model_name": "penguins", "model_version": "v1", "outcome": "accepted"}) == 3


def test_the_configured_label_budget_is_each_workers(config, keys):
    assert config.feedback.max_labels_per_second == 500  # the default: bench/README, a feedback flood
    slow = make_config(config.paths.state_dir, feedback__max_labels_per_second=5)
    app = create_app(slow, registry=CollectorRegistry(), watch=False)
    assert app.extensions["modelwatch"]["tabular"].label_budget.per_second == 5
    with pytest.raises(ConfigError, match="^invalid configuration: feedback.max_labels_per_second: must be 0"):
        make_config(config.paths.state_dir, feedback__max_labels_per_second=-1)
