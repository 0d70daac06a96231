"""Registered models served beside the default one: predict and classify by
model name (and pinned to a version), answers by task with prediction ids,
validation by each model's schema, and their series on /metrics."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry

from modelwatch.core.series import FEATURE_SLOT, feature_slots
from modelwatch.model_service.app import create_app
from modelwatch.model_service.prediction_ids import InvalidPredictionId
from modelwatch.model_service.registration import Request, register
from modelwatch.models.baselines import bucket_of
from tests.model_service.openapi_check import check_response
from tests.own_models import trusted_types


@pytest.fixture
def served(config, keys, models):
    """The Flask app with the Iris default, and penguins (categorical, missing) and diabetes (regression)."""
    for name in ("penguins", "diabetes", "cancer"):
        item = models[name]
        register(config, Request(name, item["artifact"], item["reference"], item["target"],
                                 trusted_types=trusted_types(item)))
    metrics = CollectorRegistry()
    app = create_app(config, registry=metrics, watch=False)
    app.testing = True
    return app, app.test_client(), {"X-API-Key": keys["user"]}, metrics


def _sample(app, metrics, name, labels):
    app.extensions["modelwatch"]["metrics"].flush()
    if name == "model_input_feature_bucket_total":  # its slot follows from the model's features
        model = app.extensions["modelwatch"]["servers"][labels["model_name"]].state.models[labels["model_version"]]
        labels = {**labels, FEATURE_SLOT: feature_slots(labels["model_name"], model.schema.feature_names,
                                                   model.slot_offset)[labels["feature"]]}
    return metrics.get_sample_value(name, labels) or 0.0


PENGUIN = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "body_mass_g": 3750,
           "island": "Torgersen", "sex": "male"}


def test_a_classifier_with_categorical_inputs_answers_with_classes_and_ids(served):
    app, client, headers, metrics = served
    answer = client.post("/api/v1/models/penguins/predict", headers=headers,
                         json={"instances": [PENGUIN, {**PENGUIN, "island": "Atlantis", "sex": None}]})
    assert answer.status_code == 200, answer.json
    check_response("POST", "/api/v1/models/penguins/predict", answer)
    first, second = answer.json["predictions"]
    assert first["class"] == "Adelie" and 0.5 < first["confidence"] <= 1
    assert math.isclose(sum(first["probabilities"].values()), 1.0)
    ids = app.extensions["modelwatch"]["prediction_ids"]
    assert ids.read(first["prediction_id"]).output == "Adelie"
    assert ids.read(second["prediction_id"]).model == "penguins"
    labels = {"model_name": "penguins", "model_version": "v1"}
    assert _sample(app, metrics, "model_predictions_total", {**labels, "outcome": "success"}) == 2
    assert _sample(app, metrics, "model_input_feature_bucket_total",
                   {**labels, "feature": "island", "bucket": "(unseen)"}) == 1
    assert _sample(app, metrics, "model_input_feature_bucket_total",
                   {**labels, "feature": "sex", "bucket": "(missing)"}) == 1
    assert _sample(app, metrics, "model_input_feature_missing_total", {**labels, "feature": "sex"}) == 1
    assert _sample(app, metrics, "model_predicted_class_total", {**labels, "class": "Adelie"}) >= 1


@pytest.mark.parametrize("size", [3, 40])  # a few rows are bucketed in plain Python, more with numpy
def test_a_batch_counts_every_value_in_its_bucket_and_every_missing_one(served, size):
    app, client, headers, metrics = served
    rows = [{**PENGUIN, "body_mass_g": None if i % 3 == 0 else 3000 + 50 * i, "sex": None if i % 4 == 0 else "male"}
            for i in range(size)]
    assert client.post("/api/v1/models/penguins/predict", headers=headers, json={"instances": rows}).status_code == 200
    labels = {"model_name": "penguins", "model_version": "v1"}
    missing_mass = sum(r["body_mass_g"] is None for r in rows)
    assert _sample(app, metrics, "model_input_feature_missing_total", {**labels, "feature": "body_mass_g"}) == missing_mass
    assert _sample(app, metrics, "model_input_feature_missing_total", {**labels, "feature": "sex"}) == \
        sum(r["sex"] is None for r in rows)
    baseline = app.extensions["modelwatch"]["servers"]["penguins"].state.models["v1"].buckets["body_mass_g"]
    counted = [_sample(app, metrics, "model_input_feature_bucket_total", {**labels, "feature": "body_mass_g", "bucket": b})
               for b in baseline.labels]
    assert sum(counted) == size - missing_mass  # a missing number is in no bucket
    expected = [0] * len(baseline.labels)
    for row in rows:
        if row["body_mass_g"] is not None:
            expected[bucket_of(baseline.edges, row["body_mass_g"])] += 1
    assert counted == expected
    island = {"model_name": "penguins", "model_version": "v1", "feature": "island"}
    assert _sample(app, metrics, "model_input_feature_bucket_total", {**island, "bucket": "Torgersen"}) == size
    missing_sex = sum(r["sex"] is None for r in rows)  # a missing category is counted in its own bucket too
    assert _sample(app, metrics, "model_input_feature_bucket_total",
                   {**labels, "feature": "sex", "bucket": "(missing)"}) == missing_sex


def test_classify_one_row_from_the_query_string_with_the_id_in_a_header(served):
    app, client, headers, _ = served
    query = "&".join(f"{k}={v}" for k, v in PENGUIN.items())
    answer = client.get(f"/api/v1/models/penguins/classify?{query}", headers=headers)
    assert answer.status_code == 200, answer.json
    assert answer.headers["X-Prediction-Id"] == answer.json["prediction_id"]
    check_response("GET", "/api/v1/models/penguins/classify", answer)
    assert answer.json["model_version"] == "v1"
    pinned = client.get(f"/api/v1/models/penguins/versions/v1/classify?{query}", headers=headers)
    assert pinned.status_code == 200 and pinned.json["class"] == answer.json["class"]
    check_response("GET", "/api/v1/models/penguins/versions/v1/classify", pinned)


def test_a_regressor_answers_values_on_its_prediction_buckets(served):
    app, client, headers, metrics = served
    row = {"age": 0.02, "sex": -0.04, "bmi": 0.06, "bp": 0.02, "s1": -0.04, "s2": -0.03, "s3": -0.04,
           "s4": -0.002, "s5": 0.02, "s6": -0.02}
    answer = client.post("/api/v1/models/diabetes/versions/v1/predict", headers=headers,
                         json={"instances": [row, list(row.values())]})
    assert answer.status_code == 200, answer.json
    check_response("POST", "/api/v1/models/diabetes/versions/v1/predict", answer)
    values = [p["value"] for p in answer.json["predictions"]]
    assert 25 < values[0] < 350 and values[0] == values[1]
    buckets = sum(_sample(app, metrics, "model_prediction_bucket_total",
                          {"model_name": "diabetes", "model_version": "v1", "bucket": f"{i:02d}"}) for i in range(14))
    assert buckets == 2
    refused = client.get("/api/v1/models/diabetes/classify?age=1", headers=headers)
    assert refused.status_code == 404 and refused.json["error"]["code"] == "not_a_classifier"


@pytest.mark.parametrize("row, field, status", [
    ({k: v for k, v in PENGUIN.items() if k != "bill_length_mm"} | {"bill_length_mm": "long"}, "bill_length_mm", 400),
    ({**PENGUIN, "body_mass_g": True}, "body_mass_g", 400),
    ({**PENGUIN, "flipper_length_mm": 10 ** 400}, "flipper_length_mm", 400),
    ({**PENGUIN, "island": ["Dream"]}, "island", 400),
    ({**PENGUIN, "island": "x" * 201}, "island", 400),
    ({**PENGUIN, "beak_colour": "red"}, "beak_colour", 400),
])
def test_bad_input_is_a_4xx_naming_the_field(served, row, field, status):
    _, client, headers, _ = served
    answer = client.post("/api/v1/models/penguins/predict", headers=headers, json={"instances": [row]})
    assert answer.status_code == status and answer.json["error"]["field"] == f"instances[0].{field}", answer.json
    check_response("POST", "/api/v1/models/penguins/predict", answer)


def test_a_feature_the_model_cannot_do_without_is_required(served):
    _, client, headers, _ = served
    # The cancer pipeline has no imputer: a missing value is refused, naming the first one missing.
    cancer = client.post("/api/v1/models/cancer/predict", headers=headers,
                         json={"instances": [{"mean radius": 14}]}).json["error"]
    assert cancer == {"status": 400, "code": "invalid_input", "field": "instances[0].mean texture",
                      "message": "instance 0: field 'mean texture' is required"}
    # The penguins pipeline imputes: the same row without its numbers is served.
    penguin = client.post("/api/v1/models/penguins/predict", headers=headers,
                          json={"instances": [{"island": "Dream", "sex": "female"}]})
    assert penguin.status_code == 200, penguin.json


def test_extreme_inputs_never_give_a_non_finite_answer(served):
    app, client, headers, metrics = served
    row = {"age": 1e308, "sex": -1e308, "bmi": 1e308, "bp": 1e308, "s1": 1e308, "s2": 1e308, "s3": 1e308,
           "s4": 1e308, "s5": 1e308, "s6": 1e308}
    answer = client.post("/api/v1/models/diabetes/predict", headers=headers, json={"instances": [row]})
    assert answer.status_code in (200, 422), answer.json
    if answer.status_code == 200:
        assert all(math.isfinite(p["value"]) for p in answer.json["predictions"])
    text = client.get("/metrics").get_data(as_text=True)
    assert "NaN" not in text.replace("# ", "")  # nothing non-finite reaches the exposition


def test_inputs_a_pipeline_refuses_are_a_422_not_a_500(served):
    app, client, headers, metrics = served
    answer = client.post("/api/v1/models/cancer/predict", headers=headers, json={"instances": [{
        feature["name"]: 1e308 for feature in _schema(client, headers, "cancer")["features"]}]})
    assert answer.status_code == 422 and answer.json["error"]["code"] == "non_finite_answer", answer.json
    assert "cannot answer" in answer.json["error"]["message"] or "no finite answer" in answer.json["error"]["message"]
    assert _sample(app, metrics, "model_predictions_total",
                   {"model_name": "cancer", "model_version": "v1", "outcome": "error"}) == 1


def _schema(client, headers, name: str) -> dict:
    return next(m["schema"] for m in client.get("/api/v1/models", headers=headers).json["models"] if m["name"] == name)


def test_unknown_models_and_versions_are_404s_and_the_default_model_still_answers(served):
    _, client, headers, _ = served
    assert client.post("/api/v1/models/nope/versions/v1/predict", headers=headers,
                       json={"instances": [PENGUIN]}).json["error"]["code"] == "unknown_model"
    assert client.post("/api/v1/models/penguins/versions/v9/predict", headers=headers,
                       json={"instances": [PENGUIN]}).status_code == 404
    iris = client.get("/api/v1/classify?sl=5.1&sw=3.5&pl=1.4&pw=0.3", headers=headers)
    assert iris.status_code == 200 and iris.json["species"] == "Iris setosa"
    listed = client.get("/api/v1/models", headers=headers).json
    assert {m["name"] for m in listed["models"]} == {"iris", "penguins", "diabetes", "cancer"}
    penguins = next(m for m in listed["models"] if m["name"] == "penguins")
    assert penguins["schema"]["task"] == "classification" and penguins["versions"][0]["role"] == "stable"


def test_a_forged_or_altered_prediction_id_is_refused(served):
    app, client, headers, _ = served
    answer = client.post("/api/v1/models/penguins/predict", headers=headers, json={"instances": [PENGUIN]})
    token = answer.json["predictions"][0]["prediction_id"]
    ids = app.extensions["modelwatch"]["prediction_ids"]
    payload, signature = token.split(".")
    for forged in (payload[:-2] + "AA." + signature, token + "x", "x" * 600, "", "a.b.c"):
        with pytest.raises(InvalidPredictionId):
            ids.read(forged)


def test_a_service_of_registered_models_only_is_ready_and_says_what_is_not(models, tmp_path, monkeypatch):
    from modelwatch.model_service.keys import KeyStore
    from tests.conftest import make_config

    config = make_config(tmp_path / "state")  # no Iris example: only the user's model
    item = models["penguins"]
    register(config, Request("penguins", item["artifact"], item["reference"], "species", trusted_types=trusted_types(item)))
    key = KeyStore(config.paths.keys_file).add("me")
    client = create_app(config, registry=CollectorRegistry(), watch=False).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["models"] == {"penguins": ["v1"]}
    check_response("GET", "/readyz", ready)
    assert client.post("/api/v1/models/penguins/predict", headers={"X-API-Key": key},
                       json={"instances": [PENGUIN]}).status_code == 200
    assert client.get("/api/v1/classify?sl=1&sw=1&pl=1&pw=1", headers={"X-API-Key": key}).status_code == 503
    # A registered model that cannot load keeps the service not ready, and says which.
    (config.paths.registry_dir / "penguins" / "v1" / "model.skops").write_bytes(b"tampered")
    broken = create_app(config, registry=CollectorRegistry(), watch=False).test_client().get("/readyz")
    assert broken.status_code == 503 and broken.json["reason"].startswith("penguins: ")
