"""The served OpenAPI document, fuzzed by Schemathesis: every request the
document calls valid, for the default (Iris) model and for registered models of
every kind (binary, multiclass, regression, categorical with missing values),
must be answered with a 2xx whose body fits the document — or a documented 422
when the model gives no finite answer for extreme inputs — never a 5xx and
never another 4xx. Each model's feedback operation names its classes (or a
value, for a regressor)."""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from prometheus_client import CollectorRegistry
from schemathesis.checks import (content_type_conformance, not_a_server_error, positive_data_acceptance,
                                 response_schema_conformance, status_code_conformance)
from schemathesis.config import SchemathesisConfig

from modelwatch.model_service.app import create_app
from modelwatch.model_service.keys import KeyStore
from tests.conftest import make_config
from tests.own_models import register_all

REGISTERED = ("penguins", "wine", "diabetes", "cancer")
FUZZED = rf"^/api/v1/(classify|predict|models/({'|'.join(REGISTERED)})/.*)$"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          positive_data_acceptance]
MAX_EXAMPLES = 60  # per operation
CONFIG = SchemathesisConfig.from_dict({
    "generation": {"mode": "positive"},
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "422"]}},
})


@pytest.fixture(scope="module")
def served(trained_state, models, tmp_path_factory):
    state = tmp_path_factory.mktemp("fuzzed") / "state"
    shutil.copytree(trained_state, state)
    # No label budget: a 429 says "later", not "invalid", and the budget has its own tests
    config = make_config(state, feedback__max_labels_per_second=0)
    register_all(config, models, REGISTERED)
    app = create_app(config, registry=CollectorRegistry(), watch=False)
    app.testing = True
    return app, KeyStore(config.paths.keys_file).add("fuzzer")


def _fuzz(operation, key: str) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        case.call_and_validate(headers={"X-API-Key": key}, checks=CHECKS)

    run()


def test_what_the_document_allows_is_answered_as_documented(served):
    # One test walks the operations: the document exists only once the models are registered
    # (Schemathesis's own fixture-based parametrisation does not run on pytest 9).
    app, key = served
    document = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG).include(path_regex=FUZZED)
    fuzzed, failed = [], {}
    for result in document.get_all_operations():
        operation = result.ok()
        fuzzed.append(operation.label)
        try:
            _fuzz(operation, key)
        except (Exception, BaseExceptionGroup) as failure:  # every operation runs; each failure is reported below
            failed[operation.label] = str(failure)[:2000]
    assert len(fuzzed) >= 4 + 3 * len(REGISTERED), fuzzed  # the Iris routes, and each model's own
    assert not failed, "\n\n".join(f"{label}:\n{text}" for label, text in failed.items())


def test_each_registered_model_has_its_own_operations(served):
    app, _ = served
    paths = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    for name in REGISTERED:
        assert f"/api/v1/models/{name}/predict" in paths
        assert f"/api/v1/models/{name}/versions/v1/predict" in paths
        assert (f"/api/v1/models/{name}/classify" in paths) == (name != "diabetes")  # the regressor has no classify
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    items = {name: document["components"]["schemas"][f"{name}.FeedbackItem"] for name in REGISTERED}
    assert all(f"/api/v1/models/{name}/feedback" in paths for name in REGISTERED)
    assert set(items["penguins"]["properties"]["label"]["enum"]) == {"Adelie", "Chinstrap", "Gentoo"}
    assert items["diabetes"]["required"] == ["id", "value"] and "label" not in items["diabetes"]["properties"]
