"""The Open Inference Protocol's REST routes through the app: the same answers as
/api/v1 on the same rows (tabular inputs with categories and missing values, a
matrix of numbers, a regressor, a pinned version), the same metrics, ids that
take labels, and every bad request a {"error": "..."} 4xx that counts nothing."""

from __future__ import annotations

import pytest

from tests.model_service.openapi_check import check_response
from tests.own_models import request_rows


def columns(rows: list[dict], model) -> list[dict]:
    """The tabular convention: one input per feature, BYTES for categories."""
    return [{"name": f.name, "shape": [len(rows), 1], "datatype": "BYTES" if f.kind == "categorical" else "FP64",
             "data": [row[f.name] for row in rows]} for f in model.schema.features]


def served_model(app, name):
    return app.extensions["modelwatch"]["servers"][name].choose()


def native(client, headers, name, rows, version=None):
    path = f"/api/v1/models/{name}" + (f"/versions/{version}" if version else "") + "/predict"
    answer = client.post(path, headers=headers, json={"instances": rows})
    assert answer.status_code == 200, answer.json
    return answer.json["predictions"]


def output(answer, name):
    return next(o for o in answer.json["outputs"] if o["name"] == name)


def test_tabular_inputs_with_categories_and_missing_values_answer_as_the_native_api(served, models):
    app, client, headers, _ = served
    every = request_rows(models["penguins"])
    rows = ([row for row in every if None in row.values()] + every)[:25]
    assert any(None in row.values() for row in rows)  # missing values travel as null
    model = served_model(app, "penguins")
    answer = client.post("/v2/models/penguins/infer", headers=headers,
                         json={"id": "req-7", "parameters": {"content_type": "pd"}, "inputs": columns(rows, model)})
    assert answer.status_code == 200, answer.json
    check_response("POST", "/v2/models/penguins/infer", answer)
    expected = native(client, headers, "penguins", rows)
    assert answer.json["id"] == "req-7" and answer.json["model_name"] == "penguins"
    assert output(answer, "predict")["data"] == [p["class"] for p in expected]
    probabilities = output(answer, "predict_proba")
    assert probabilities["shape"] == [25, len(model.classes)]
    assert probabilities["data"] == pytest.approx([p["probabilities"][c] for p in expected for c in model.classes])
    ids = output(answer, "prediction_id")["data"]
    labelled = client.post("/api/v1/models/penguins/feedback", headers=headers,
                           json={"feedback": [{"id": ids[0], "label": "Adelie"}]})
    assert labelled.json["accepted"] == 1  # OIP predictions take labels like the native ones


def test_a_matrix_of_numbers_and_a_pinned_version_of_a_regressor(served, models):
    app, client, headers, metrics = served
    rows = request_rows(models["diabetes"])[:10]
    names = [f.name for f in served_model(app, "diabetes").schema.features]
    matrix = {"inputs": [{"name": "input-0", "shape": [10, len(names)], "datatype": "FP32",
                          "data": [[row[n] for n in names] for row in rows]}]}
    answer = client.post("/v2/models/diabetes/versions/v1/infer", headers=headers, json=matrix)
    assert answer.status_code == 200, answer.json
    assert answer.json["model_version"] == "v1" and "id" not in answer.json
    values = output(answer, "predict")["data"]
    assert values == pytest.approx([p["value"] for p in native(client, headers, "diabetes", rows, "v1")])
    app.extensions["modelwatch"]["metrics"].flush()
    counted = metrics.get_sample_value("model_predictions_total", {"model_name": "diabetes", "model_version": "v1",
                                                                   "outcome": "success"})
    assert counted == 20  # both protocols, one count


def test_metadata_and_health_describe_every_registered_model(served):
    app, client, headers, _ = served
    assert client.get("/v2/health/live").json == {"live": True}
    assert client.get("/v2/health/ready").json == {"ready": True}
    assert client.get("/v2").json["name"] == "modelwatch"
    check_response("GET", "/v2/health/ready", client.get("/v2/health/ready"))
    check_response("GET", "/v2", client.get("/v2"))
    check_response("GET", "/v2/models/penguins", client.get("/v2/models/penguins", headers=headers))
    described = client.get("/v2/models/penguins", headers=headers).json
    assert described["versions"] == ["v1"]  # loaded (v2 is registered, not deployed)
    inputs = {i["name"]: i["datatype"] for i in described["inputs"]}
    assert inputs["island"] == "BYTES" and inputs["bill_length_mm"] == "FP64"
    assert [o["name"] for o in described["outputs"]] == ["predict", "predict_proba", "prediction_id"]
    assert client.get("/v2/models/diabetes/versions/v1/ready", headers=headers).json == {"name": "diabetes",
                                                                                          "ready": True}
    assert client.get("/v2/models/diabetes/versions/v9/ready", headers=headers).status_code == 404


@pytest.mark.parametrize("model, body, says", [
    ("penguins", {"inputs": []}, "send {"),
    ("penguins", None, "send {"),
    ("penguins", {"inputs": [{"name": "island", "shape": [2, 1], "datatype": "BYTES", "data": ["Biscoe"]}]},
     "needs 2 values"),
    ("penguins", {"inputs": [{"name": "island", "shape": [1], "datatype": "FP64", "data": [1.0]}]}, "is a category"),
    ("penguins", {"inputs": [{"name": "bill_length_mm", "shape": [1], "datatype": "BYTES", "data": ["x"]}]},
     "is a number"),
    ("penguins", {"inputs": [{"name": "m", "shape": [1, 6], "datatype": "FP64", "data": [1] * 6}]},
     "categorical features"),
    ("penguins", {"inputs": [{"name": "island", "shape": [1], "data": ["Biscoe"]}]}, "missing datatype"),
    ("diabetes", {"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", "data": [0.01]}]}, "is required"),
    ("diabetes", {"inputs": [{"name": "m", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}, "shape [rows, 10]"),
    ("diabetes", {"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", "data": ["NaN"]}]}, "age"),
])
def test_bad_requests_are_a_one_line_error_and_count_nothing(served, model, body, says):
    app, client, headers, metrics = served
    path = f"/v2/models/{model}/infer"
    answer = client.post(path, headers=headers, json=body) if body is not None else client.post(path, headers=headers)
    assert answer.status_code == 400, answer.json
    check_response("POST", path, answer)
    assert set(answer.json) == {"error"} and isinstance(answer.json["error"], str) and says in answer.json["error"]
    app.extensions["modelwatch"]["metrics"].flush()
    assert not metrics.get_sample_value("model_predictions_total", {"model_name": model, "model_version": "v1",
                                                                    "outcome": "success"})


def test_keys_size_limits_and_unknown_models_behave_as_on_the_native_api(served, config):
    app, client, headers, _ = served
    rows = [{"name": "bill_length_mm", "shape": [1], "datatype": "FP64", "data": [40.0]}]
    refused = client.post("/v2/models/penguins/infer", json={"inputs": rows})
    assert refused.status_code == 401 and "API key" in refused.json["error"]
    assert client.get("/v2/models/penguins", headers={"X-API-Key": "mw_wrong"}).status_code == 401
    assert client.post("/v2/models/nope/infer", headers=headers, json={"inputs": rows}).status_code == 404
    too_many = config.service.max_batch_size + 1
    big = [{"name": "bill_length_mm", "shape": [too_many], "datatype": "FP64", "data": [40.0] * too_many}]
    assert client.post("/v2/models/penguins/infer", headers=headers, json={"inputs": big}).status_code == 413


def test_a_body_in_tritons_binary_extension_or_not_json_is_refused(served):
    _, client, headers, _ = served
    body = b'{"inputs": []}' + b"\x00" * 8
    binary = client.post("/v2/models/penguins/infer", data=body,
                         headers={**headers, "Inference-Header-Content-Length": "14"})
    assert binary.status_code == 400 and "binary_data=False" in binary.json["error"]
    garbled = client.post("/v2/models/penguins/infer", data=b"{nope", headers=headers)
    assert garbled.status_code == 400 and "not valid JSON" in garbled.json["error"]


def test_nested_data_is_read_row_major_however_deep(served):
    _, client, headers, _ = served
    depth = 1000  # orjson parses up to 1,024 levels; reading them recursively failed at 1,000
    deep = "[" * depth + "0.05" + "]" * depth  # written by hand: Python's json cannot write it
    body = '{"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", "data": ' + deep + "}]}"
    answer = client.post("/v2/models/diabetes/infer", headers=headers, data=body)
    assert answer.status_code == 400 and "is required" in answer.json["error"]  # read: only the other columns miss


AWKWARD = {  # one column's values -> what the native API makes of the same rows
    "floats": lambda base: base,
    "integers among floats": lambda base: [int(v * 100) if i % 2 else v for i, v in enumerate(base)],
    "a boolean": lambda base: [True, *base[1:]],
    "a number as text": lambda base: ["0.05", *base[1:]],
    "a missing value": lambda base: [None, *base[1:]],
    "an integer of 400 digits": lambda base: [10 ** 400, *base[1:]],
    "values whose sum overflows": lambda base: [1.5e308] * len(base),
}


@pytest.mark.parametrize("case", AWKWARD)
def test_every_value_is_judged_as_the_native_api_judges_it(served, models, case):
    """Columns are taken at once when every value passes validation unchanged, and row by row
    otherwise: either way the answer, or the refusal, is the native API's."""
    app, client, headers, _ = served
    model = served_model(app, "diabetes")
    rows = request_rows(models["diabetes"])[:6]
    first = model.schema.features[0].name
    changed = AWKWARD[case]([row[first] for row in rows])
    rows = [{**row, first: value} for row, value in zip(rows, changed)]
    answer = client.post("/v2/models/diabetes/infer", headers=headers, json={"inputs": columns(rows, model)})
    expected = client.post("/api/v1/models/diabetes/predict", headers=headers, json={"instances": rows})
    assert answer.status_code == expected.status_code, (answer.json, expected.json)
    if expected.status_code == 200:
        assert output(answer, "predict")["data"] == pytest.approx([p["value"] for p in expected.json["predictions"]])
    elif case == "an integer of 400 digits":  # orjson refuses the body itself, where /api/v1 reads it first
        assert "body is not valid JSON: number is infinity" in answer.json["error"]
    else:
        assert expected.json["error"]["message"] in answer.json["error"]


@pytest.mark.parametrize("category", ["", "x" * 200, "x" * 201, 7, None])
def test_categories_are_judged_as_the_native_api_judges_them(served, models, category):
    app, client, headers, _ = served
    model = served_model(app, "penguins")
    rows = [row for row in request_rows(models["penguins"]) if None not in row.values()][:5]
    rows[2] = {**rows[2], "island": category}
    answer = client.post("/v2/models/penguins/infer", headers=headers, json={"inputs": columns(rows, model)})
    expected = client.post("/api/v1/models/penguins/predict", headers=headers, json={"instances": rows})
    assert answer.status_code == expected.status_code, (answer.json, expected.json)
    if expected.status_code == 200:
        assert output(answer, "predict")["data"] == [p["class"] for p in expected.json["predictions"]]
