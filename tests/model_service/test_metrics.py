"""What /metrics says after real requests, the catalogue in docs/metrics.md,
and bounded cardinality under hostile input."""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

import numpy as np
import pytest

from modelwatch.core.series import FEATURE_SLOT
from modelwatch.models.baselines import bucket_indexes, bucket_of
from modelwatch.models.registry import Registry

QUERY = "sl=5.1&sw=3.5&pl=1.4&pw=0.3"
CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


@pytest.fixture
def registry(app):
    return app.extensions["test_registry"]


def value(registry, name, **labels):
    from modelwatch.model_service.metric_buffer import flush_all

    flush_all()
    if name == "model_input_feature_bucket_total":  # a feature's buckets share one slot (test_tabular_api: which)
        slots = {s.labels[FEATURE_SLOT] for family in registry.collect() for s in family.samples
                 if s.name == name and s.labels["feature"] == labels["feature"]
                 and s.labels["model_name"] == labels["model_name"]}
        assert len(slots) == 1, slots
        labels[FEATURE_SLOT] = slots.pop()
    return registry.get_sample_value(name, labels)


def series(registry) -> set[tuple]:
    from modelwatch.model_service.metric_buffer import flush_all

    flush_all()
    return {(s.name, tuple(sorted(s.labels.items()))) for family in registry.collect() for s in family.samples}


def test_request_and_model_series(client, keys, registry, app):
    headers = {"X-API-Key": keys["user"]}
    for _ in range(3):
        assert client.get(f"/api/v1/classify?{QUERY}", headers=headers).status_code == 200
    client.post("/api/v1/predict", json={"instances": [[6.7, 3.0, 5.2, 2.3]] * 4}, headers=headers)
    client.get("/no/such/page")
    client.get("/api/v1/classify?sl=x", headers=headers)

    http = "http_server_request_duration_seconds_count"
    assert value(registry, http, http_route="/api/v1/classify", http_request_method="GET", http_response_status_code="200") == 3
    assert value(registry, http, http_route="/api/v1/classify", http_request_method="GET", http_response_status_code="400") == 1
    assert value(registry, http, http_route="/api/v1/predict", http_request_method="POST", http_response_status_code="200") == 1
    assert value(registry, http, http_route="unmatched", http_request_method="GET", http_response_status_code="404") == 1
    assert value(registry, "http_server_active_requests", http_request_method="GET") == 0

    model = {"model_name": "iris", "model_version": "v1"}
    assert value(registry, "model_predictions_total", outcome="success", **model) == 7
    assert value(registry, "model_predicted_class_total", **{"class": "Iris setosa"}, **model) == 3
    assert value(registry, "model_predicted_class_total", **{"class": "Iris virginica"}, **model) == 4
    assert value(registry, "model_batch_size_count", **model) == 4
    assert value(registry, "model_batch_size_sum", **model) == 7
    assert value(registry, "model_inference_duration_seconds_count", **model) == 4
    assert value(registry, "model_prediction_confidence_count", **model) == 7
    assert value(registry, "model_client_requests_total", client="alice", http_route="/api/v1/classify") == 4

    loaded = app.extensions["modelwatch"]["server"].state.models["v1"]
    sl_edges = loaded.buckets["sl"].edges
    bucket = f"{bucket_indexes(sl_edges, np.array([5.1]))[0]:02d}"
    assert value(registry, "model_input_feature_bucket_total", feature="sl", bucket=bucket, **model) == 3
    # Every bucket of every feature exists from the start, at zero where unused.
    for name in loaded.schema.feature_names:
        for i in range(len(loaded.buckets[name].edges) + 1):
            assert value(registry, "model_input_feature_bucket_total", feature=name, bucket=f"{i:02d}", **model) is not None


def test_out_of_range_inputs_land_in_edge_buckets(client, keys, registry, app):
    client.get("/api/v1/classify?sl=0.1&sw=99&pl=1.4&pw=0.3", headers={"X-API-Key": keys["user"]})
    loaded = app.extensions["modelwatch"]["server"].state.models["v1"]
    last = f"{len(loaded.buckets['sw'].edges):02d}"
    model = {"model_name": "iris", "model_version": "v1"}
    assert value(registry, "model_input_feature_bucket_total", feature="sl", bucket="00", **model) == 1
    assert value(registry, "model_input_feature_bucket_total", feature="sw", bucket=last, **model) == 1


@pytest.mark.parametrize("predictor", ["fast", "native"])
def test_a_large_batch_lands_where_single_rows_do(config, keys, predictor):
    """Above the plain-Python size a batch is bucketed from its rows (the fast evaluator builds no input
    frame) or from the model's all-numeric input frame (native scikit-learn)."""
    from dataclasses import replace

    from prometheus_client import CollectorRegistry

    from modelwatch.model_service.app import create_app

    registry = CollectorRegistry()
    app = create_app(replace(config, service=replace(config.service, predictor=predictor)), registry=registry,
                     watch=False)
    client = app.test_client()
    loaded = app.extensions["modelwatch"]["server"].state.models["v1"]
    assert hasattr(loaded.artifact, "predict_rows") == (predictor == "fast")  # the fast evaluator reads rows
    rows = [[4.0 + 0.1 * i, 2.0 + 0.05 * i, 1.0 + 0.2 * i, 0.1 * i] for i in range(40)]
    assert client.post("/api/v1/predict", json={"instances": rows}, headers={"X-API-Key": keys["user"]}).status_code == 200
    model = {"model_name": "iris", "model_version": "v1"}
    for position, name in enumerate(loaded.schema.feature_names):
        edges = loaded.buckets[name].edges
        expected = np.bincount([bucket_of(edges, row[position]) for row in rows], minlength=len(edges) + 1)
        counted = [value(registry, "model_input_feature_bucket_total", feature=name, bucket=f"{i:02d}", **model)
                   for i in range(len(edges) + 1)]
        assert counted == expected.tolist(), name


def test_auth_failures_by_reason(client, keys, registry):
    client.get(f"/api/v1/classify?{QUERY}")
    client.get(f"/api/v1/classify?{QUERY}", headers={"X-API-Key": "wrong"})
    client.get("/api/v1/admin/deployment", headers={"X-API-Key": keys["user"]})
    for reason in ("missing", "unknown", "forbidden"):
        assert value(registry, "model_auth_failures_total", reason=reason) == 1


def test_model_info_and_load_series(registry, app):
    loaded = app.extensions["modelwatch"]["server"].state.models["v1"]
    meta = loaded.metadata
    assert value(registry, "model_info", model_name="iris", model_version="v1", role="stable",
                 sha256=meta["sha256"]["model.skops"], algorithm="LogisticRegression", created=meta["created"]) == 1
    assert value(registry, "model_load_duration_seconds", model_name="iris", model_version="v1") > 0
    assert value(registry, "model_last_reload_success_timestamp_seconds", model_name="iris") > 1.7e9


def test_cardinality_is_bounded_under_random_paths_keys_and_values(client, keys, registry):
    headers = {"X-API-Key": keys["user"]}
    # Warm up every legitimate kind of request once, then count the series.
    client.get(f"/api/v1/classify?{QUERY}", headers=headers)
    client.get("/nothing", headers=headers)
    client.get("/api/v1/classify?sl=x", headers=headers)
    client.get(f"/api/v1/classify?{QUERY}", headers={"X-API-Key": "bad"})
    client.get(f"/api/v1/classify?{QUERY}")
    client.get("/api/v1/models/v9/classify", headers=headers)
    before = series(registry)

    rng = random.Random(1)
    word = lambda n: "".join(rng.choices(string.ascii_letters + string.digits, k=n))  # noqa: E731
    for _ in range(1000):
        client.get(f"/{word(8)}/{word(12)}", headers=headers)
        client.get(f"/api/v1/classify?{QUERY}", headers={"X-API-Key": f"mw_{word(12)}_{word(32)}"})
        client.get(f"/api/v1/classify?{QUERY}&key={word(20)}")
        client.get(f"/api/v1/classify?sl={rng.uniform(-1e6, 1e6)}&sw={rng.random()}&pl={rng.random()}&pw={rng.random()}",
                   headers=headers)
        client.get(f"/api/v1/classify?{word(5)}=1", headers=headers)
        client.get(f"/api/v1/models/{word(6)}/classify?{QUERY}", headers=headers)
    after = series(registry)
    assert after == before, sorted(after - before)[:5]


def catalogue(section: str | None = None) -> dict[str, tuple[str, set[str]]]:
    """docs/metrics.md's rows: name -> (type, labels); only the section whose heading starts with ``section`` if given."""
    text = CATALOGUE.read_text()
    if section is not None:
        text = text.split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^\| `([a-zA-Z0-9_]+)` \| (counter|gauge|histogram) \| ([^|]*) \|", line)
        if match:
            labels = set(re.findall(r"`([a-z0-9_]+)`", match.group(3)))
            rows[match.group(1)] = (match.group(2), labels)
    return rows


def test_catalogue_lists_exactly_the_series_served(config, keys, models):
    from prometheus_client import CollectorRegistry

    from modelwatch.model_service.app import create_app
    from modelwatch.model_service.registration import Request, register
    from tests.own_models import trusted_types

    for name in ("penguins", "diabetes"):  # a registered classifier and regressor beside the default model
        item = models[name]
        register(config, Request(name, item["artifact"], item["reference"], item["target"],
                                 trusted_types=trusted_types(item)))
    metadata = config.paths.registry_dir / "diabetes" / "v1" / "metadata.json"  # saved with another numpy
    metadata.write_text(metadata.read_text().replace('"numpy": "', '"numpy": "0.'))
    Registry(config.paths.registry_dir, "diabetes").sign(metadata.parent)  # as registered there
    registry = CollectorRegistry()
    app = create_app(config, registry=registry, watch=False)
    app.test_client().get(f"/api/v1/classify?{QUERY}", headers={"X-API-Key": keys["user"]})
    grpc_call(app, config)
    series(registry)  # flushes
    served = {}
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {k for s in family.samples for k in s.labels if k != "le"}
        served[name] = (family.type, labels)
    documented = catalogue()
    service_rows = {name: row for name, row in documented.items()
                    if name.startswith(("model_", "http_server_", "rpc_server_"))}
    assert service_rows == served


def grpc_call(app, config) -> None:
    """One gRPC call to the app's models, so the gRPC series are served too."""
    from dataclasses import replace

    import grpc

    from modelwatch.model_service.oip_grpc import serve_app
    from modelwatch.protocol import open_inference_grpc_pb2 as pb
    from modelwatch.protocol import open_inference_grpc_pb2_grpc as pb_grpc
    from tests.model_service.served import free_port

    settings = replace(config.service, grpc_port=free_port())
    server = serve_app(app, settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{settings.grpc_port}") as channel:
            assert pb_grpc.GRPCInferenceServiceStub(channel).ServerLive(pb.ServerLiveRequest(), timeout=10).live
    finally:
        server.stop(grace=None)


def test_a_version_whose_series_cannot_start_serves_and_is_counted_once_they_can(app, monkeypatch):
    from prometheus_client import CollectorRegistry

    from modelwatch.model_service.metrics import ServiceMetrics

    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)
    model = next(iter(app.extensions["modelwatch"]["server"].state.models.values()))
    start = metrics._start_series
    monkeypatch.setattr(metrics, "_start_series", lambda *a: (_ for _ in ()).throw(OSError(28, "full")))
    metrics.model_loaded(model, "stable")  # no exception: the version serves
    events = np.zeros((1, 2 + len(model.schema.features)))
    metrics.observe_prediction(model, 0.01, 1, events)  # taken, not a KeyError
    with pytest.raises(OSError):
        metrics.flush()  # still full: the flush thread logs it and tries again
    monkeypatch.setattr(metrics, "_start_series", start)
    metrics.observe_prediction(model, 0.01, 1, events)
    metrics.flush()
    labels = {"model_name": model.name, "model_version": model.version, "outcome": "success"}
    assert registry.get_sample_value("model_predictions_total", labels) == 1  # the rows after the disk had room
