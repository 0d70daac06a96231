"""The REST API's contract: answers, auth, every class of bad input, versions.
Every response is checked against the OpenAPI document."""

from __future__ import annotations

import json

import pytest

from modelwatch.model_service.api import json_document
from tests.model_service.openapi_check import check_response, spec

SETOSA = {"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.3}
QUERY = "sl=5.1&sw=3.5&pl=1.4&pw=0.3"


@pytest.fixture
def api(client, keys):
    """Call the API as the user (or as=admin / as=None) and check the answer against the OpenAPI document."""

    def call(method: str, path: str, as_: str | None = "user", **kwargs):
        headers = kwargs.pop("headers", {})
        if as_ is not None:
            headers["X-API-Key"] = keys[as_]
        response = client.open(path, method=method, headers=headers, **kwargs)
        if not path.startswith("/api/docs"):
            check_response(method, path, response)
        return response

    return call


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}
    return body["error"]


# -- answers ----------------------------------------------------------------------------
def test_talks_curl_example_form_body_key_in_query(api, keys):
    response = api("POST", f"/api/v1/classify?key={keys['user']}", as_=None, data=QUERY,
                   content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    body = response.get_json()
    assert body["species"] == "Iris setosa"
    assert body["model"] == "iris" and body["model_version"] == "v1"
    assert set(body["probabilities"]) == {"Iris setosa", "Iris versicolor", "Iris virginica"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    assert body["confidence"] == max(body["probabilities"].values())


@pytest.mark.parametrize("method,kwargs", [
    ("GET", {"query_string": QUERY}),
    ("POST", {"query_string": QUERY}),
    ("POST", {"json": SETOSA}),
    ("POST", {"data": QUERY, "content_type": "application/x-www-form-urlencoded"}),
])
def test_classify_accepts_query_form_and_json(api, method, kwargs):
    response = api(method, "/api/v1/classify", **kwargs)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["species"] == "Iris setosa"


def test_classify_takes_the_features_from_one_place(api):
    response = api("POST", "/api/v1/classify?sl=6.7&sw=3.0", json={"pl": 5.2, "pw": 2.3})
    assert response.status_code == 400 and "not both" in error_of(response)["message"]


def test_predict_batch_positional_and_named(api):
    rows = [[5.1, 3.5, 1.4, 0.3], {"sl": 6.7, "sw": 3.0, "pl": 5.2, "pw": 2.3}, [5.9, 2.8, 4.3, 1.3]]
    response = api("POST", "/api/v1/predict", json={"instances": rows})
    assert response.status_code == 200
    body = response.get_json()
    assert [p["species"] for p in body["predictions"]] == ["Iris setosa", "Iris virginica", "Iris versicolor"]


def test_models_lists_loaded_versions_with_metadata(api):
    listed = api("GET", "/api/v1/models").get_json()
    assert listed["default"] == "iris"
    iris = next(m for m in listed["models"] if m["name"] == "iris")
    assert [(v["version"], v["role"], v["weight"]) for v in iris["versions"]] == [("v1", "stable", 1.0)]
    assert iris["versions"][0]["evaluator"] == "LinearEvaluator"  # service.predictor: fast
    assert [f["name"] for f in iris["schema"]["features"]] == ["sl", "sw", "pl", "pw"]


def test_operational_routes_are_open(api):
    assert api("GET", "/healthz", as_=None).get_json() == {"status": "ok"}
    assert api("GET", "/readyz", as_=None).get_json() == {"status": "ready", "versions": ["v1"], "models": {"iris": ["v1"]}}
    assert api("GET", "/api/v1/openapi.json", as_=None).get_json()["openapi"].startswith("3.1")


def test_swagger_ui_served_from_package_assets(api):
    page = api("GET", "/api/docs", as_=None)
    assert page.status_code == 200 and b"SwaggerUIBundle" in page.data and b"openapi.json" in page.data
    bundle = api("GET", "/api/docs/swagger-ui-bundle.js", as_=None)
    assert bundle.status_code == 200 and len(bundle.data) > 100_000
    assert b"https://" not in page.data  # nothing from a CDN


def test_openapi_document_is_valid():
    from openapi_spec_validator import validate

    validate(spec())  # raises on any violation of the OpenAPI 3.1 schema


def test_every_route_is_documented_and_every_documented_path_exists(app):
    served = {
        rule.rule.replace("<", "{").replace(">", "}").replace("{path:", "{")
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith("/api/docs")
    }
    assert served == set(spec()["paths"])


# -- auth --------------------------------------------------------------------------------
def test_missing_key_is_401_json(api):
    response = api("GET", "/api/v1/classify", as_=None, query_string=QUERY)
    assert response.status_code == 401
    assert error_of(response)["code"] == "missing_key"
    assert "X-API-Key" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("key", ["nonsense", "mw_000000000000_" + "a" * 32])
def test_unknown_key_is_401(api, key):
    response = api("GET", "/api/v1/classify", as_=None, query_string=QUERY, headers={"X-API-Key": key})
    assert response.status_code == 401 and error_of(response)["code"] == "unknown_key"


def test_right_id_wrong_secret_is_401(api, keys):
    forged = keys["user"][:-4] + ("aaaa" if not keys["user"].endswith("aaaa") else "bbbb")
    response = api("GET", "/api/v1/classify", as_=None, query_string=QUERY, headers={"X-API-Key": forged})
    assert response.status_code == 401


def test_admin_endpoints_need_admin_role(api):
    assert api("GET", "/api/v1/admin/deployment").status_code == 403
    assert api("GET", "/api/v1/admin/deployment", as_="admin").status_code == 200


def test_keys_are_stored_hashed_and_never_exposed(api, keys, config, app):
    api("GET", "/api/v1/classify", query_string=QUERY)
    stored = config.paths.keys_file.read_text()
    exposition = api("GET", "/metrics", as_=None).get_data(as_text=True)
    for key in keys.values():
        secret = key.split("_", 2)[2]
        assert secret not in stored and key not in exposition
    assert 'client="alice"' in exposition


def test_metrics_bearer_token(state_dir, keys):
    from modelwatch.model_service.app import create_app
    from tests.conftest import make_config

    client = create_app(make_config(state_dir, service__metrics_token="s3cret"), watch=False).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_with_a_metrics_port_metrics_and_the_api_answer_each_on_their_own(state_dir, keys):
    from modelwatch.model_service.app import create_app
    from tests.conftest import make_config

    client = create_app(make_config(state_dir, service__metrics_port=9102), watch=False).test_client()
    api, metrics = "http://127.0.0.1:8000", "http://127.0.0.1:9102"
    user = {"X-API-Key": keys["user"]}
    assert client.get("/metrics", base_url=metrics).status_code == 200
    refused = client.get("/metrics", base_url=api)
    assert refused.status_code == 404 and error_of(refused)["code"] == "not_found"
    assert client.get("/api/v1/models", base_url=api, headers=user).status_code == 200
    assert client.get("/api/v1/models", base_url=metrics, headers=user).status_code == 404
    for probe in ("/healthz", "/readyz"):
        assert client.get(probe, base_url=api).status_code == client.get(probe, base_url=metrics).status_code


# -- bad input: always a 4xx JSON error naming the field --------------------------------------
@pytest.mark.parametrize("query,field,fragment", [
    ("sl=5.1&sw=3.5&pl=1.4", "pw", "field 'pw' is required"),
    (QUERY + "&colour=blue", "colour", "unknown field 'colour'"),
    ("sl=5.1&sw=abc&pl=1.4&pw=0.3", "sw", "must be a number"),
    ("sl=nan&sw=3.5&pl=1.4&pw=0.3", "sl", "must be a number"),
    ("sl=inf&sw=3.5&pl=1.4&pw=0.3", "sl", "must be a number"),
    ("sl=1e999&sw=3.5&pl=1.4&pw=0.3", "sl", "finite"),
    ("sl=1_0&sw=3.5&pl=1.4&pw=0.3", "sl", "must be a number"),
    (QUERY + "&sl=5.0", "sl", "more than once"),
    ("", "sl", "field 'sl' is required"),
])
def test_bad_query_names_the_field(api, query, field, fragment):
    response = api("GET", "/api/v1/classify", query_string=query)
    assert response.status_code == 400
    error = error_of(response)
    assert error["field"] == field and fragment in error["message"]


@pytest.mark.parametrize("raw,field,fragment", [
    ('{"sl": NaN, "sw": 3.5, "pl": 1.4, "pw": 0.3}', "sl", "finite"),
    ('{"sl": Infinity, "sw": 3.5, "pl": 1.4, "pw": 0.3}', "sl", "finite"),
    ('{"sl": "5.1", "sw": 3.5, "pl": 1.4, "pw": 0.3}', "sl", "must be a number"),
    ('{"sl": true, "sw": 3.5, "pl": 1.4, "pw": 0.3}', "sl", "must be a number"),
    ('{"sl": null, "sw": 3.5, "pl": 1.4, "pw": 0.3}', "sl", "is required"),
    ('{"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.3, "extra": 1}', "extra", "unknown field"),
    ('{"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 1' + "0" * 400 + "}", "pw", "out of range"),  # no float holds it
])
def test_bad_json_values(api, raw, field, fragment):
    response = api("POST", "/api/v1/classify", data=raw, content_type="application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["field"] == field and fragment in error["message"]


def test_hostile_bodies_get_4xx_not_5xx(api):
    deep = api("POST", "/api/v1/predict", data="[" * 50_000, content_type="application/json")
    assert deep.status_code == 400 and error_of(deep)["code"] == "invalid_json"
    binary = api("POST", "/api/v1/classify", data=b"\xff\xfe\x00garbage", content_type="application/json")
    assert binary.status_code == 400
    empty = api("POST", "/api/v1/classify?sl=5.1&sw=3.5&pl=1.4&pw=0.3", data=b"", content_type="application/json")
    assert empty.status_code == 200  # an empty body adds nothing to the query


def test_inputs_the_model_overflows_on_are_refused_and_never_reach_the_metrics(api, client):
    extreme = [1e308, 1e308, 1e308, -1e308]
    for response in (api("GET", "/api/v1/classify", query_string=dict(zip(("sl", "sw", "pl", "pw"), extreme))),
                     api("POST", "/api/v1/predict", json={"instances": [extreme, list(SETOSA.values())]})):
        assert response.status_code == 422 and error_of(response)["code"] == "non_finite_answer"
    assert api("GET", "/api/v1/classify", query_string=QUERY).status_code == 200
    text = client.get("/metrics").get_data(as_text=True)
    assert "NaN" not in text.replace("# ", "")  # model_prediction_confidence_sum stays a number


def test_query_and_body_together_are_refused(api):
    response = api("POST", "/api/v1/classify?sl=5.0", json=SETOSA)
    assert response.status_code == 400 and "not both" in error_of(response)["message"]


def test_malformed_json_and_non_object(api):
    assert error_of(api("POST", "/api/v1/classify", data="{not json", content_type="application/json"))["code"] == "invalid_json"
    assert api("POST", "/api/v1/classify", json=[1, 2, 3, 4]).status_code == 400
    assert api("POST", "/api/v1/predict", json=[[1, 2, 3, 4]]).status_code == 400


@pytest.mark.parametrize("body,field,status", [
    ({"instances": []}, "instances", 400),
    ({"instances": "rows"}, "instances", 400),
    ({}, "instances", 400),
    ({"instances": [[1, 2, 3]]}, "instances[0]", 400),
    ({"instances": [[1, 2, 3, 4], [1, 2, "x", 4]]}, "instances[1].pl", 400),
    ({"instances": [{"sl": 1, "sw": 2, "pl": 3}]}, "instances[0].pw", 400),
    ({"instances": [5]}, "instances[0]", 400),
    ({"instances": [[1, 2, 3, 4]], "extra": True}, "extra", 400),
    ({"instances": [[1, 2, 3, 4]] * 1001}, "instances", 413),
])
def test_bad_batches(api, body, field, status):
    response = api("POST", "/api/v1/predict", json=body)
    assert response.status_code == status
    assert error_of(response)["field"] == field


def test_predict_rejects_unknown_query_and_empty_body(api):
    assert error_of(api("POST", "/api/v1/predict?rows=2", json={"instances": [[1, 2, 3, 4]]}))["field"] == "rows"
    assert error_of(api("POST", "/api/v1/predict"))["code"] == "missing_body"


def test_body_over_size_limit_is_413(api, config):
    big = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.3]] * 60_000})
    assert len(big) > config.service.max_body_bytes
    response = api("POST", "/api/v1/predict", data=big, content_type="application/json")
    assert response.status_code == 413
    assert error_of(response)["status"] == 413


@pytest.mark.parametrize("path,content_type", [
    ("/api/v1/classify", "text/plain"),
    ("/api/v1/classify", "multipart/form-data; boundary=x"),
    ("/api/v1/predict", "application/x-www-form-urlencoded"),
    ("/api/v1/predict", "application/xml"),
])
def test_wrong_content_type_is_415(api, path, content_type):
    response = api("POST", path, data="sl=1", content_type=content_type)
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_unknown_version_is_404(api):
    response = api("GET", "/api/v1/models/v99/classify", query_string=QUERY)
    assert response.status_code == 404
    assert error_of(response)["field"] == "version"


def test_unknown_route_and_method_are_json(client):
    response = client.get("/api/v1/nothing/here")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    response = client.delete("/api/v1/classify")
    assert response.status_code == 405 and response.get_json()["error"]["status"] == 405
    assert "GET" in response.headers["Allow"]


def test_bad_input_loses_nothing(api):
    """A rejected request leaves the service answering as before."""
    for _ in range(3):
        api("GET", "/api/v1/classify", query_string="sl=oops")
    assert api("GET", "/api/v1/classify", query_string=QUERY).get_json()["species"] == "Iris setosa"


@pytest.mark.parametrize("raw", [
    b'{"a": [1, 2.5, -0, 1e308, "x", null, true]}',  # what orjson reads itself
    b'[NaN, -Infinity]', b'["\\ud800"]', b'[1e400]', b"[1" + b"0" * 400 + b"]",  # what it refuses
    '["é"]'.encode("utf-16"),
])
def test_json_bodies_read_as_the_standard_parser_reads_them(raw):
    expected, got = json.loads(raw), json_document(raw)
    assert repr(got) == repr(expected)  # repr: NaN is not equal to itself
