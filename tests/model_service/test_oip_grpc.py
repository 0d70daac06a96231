"""The Open Inference Protocol's gRPC service, a real gRPC server on loopback
around the app's models, keys and metrics: the same answers as /api/v1 on the
same rows (typed contents and raw tensors, categories, missing values as NaN, a
matrix of numbers, a regressor, a pinned version), health for Kubernetes'
probes, and every bad call a status code with a message that counts nothing."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import replace

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry

from modelwatch.model_service.oip_grpc import serve_app
from modelwatch.protocol import open_inference_grpc_pb2 as pb
from modelwatch.protocol import open_inference_grpc_pb2_grpc as pb_grpc
from tests.model_service.served import free_port
from tests.model_service.test_oip import native, served_model
from tests.own_models import request_rows


@pytest.fixture
def grpc_served(served, config):
    """The REST tests' app (tests/model_service/test_oip.py), with a gRPC server around it."""
    app, _, headers, metrics = served
    settings = replace(config.service, grpc_port=free_port(), max_body_bytes=64 * 1024)
    server = serve_app(app, settings)
    channel = grpc.insecure_channel(f"127.0.0.1:{settings.grpc_port}")
    try:
        yield (pb_grpc.GRPCInferenceServiceStub(channel), app, (("x-api-key", headers["X-API-Key"]),), metrics, channel)
    finally:
        channel.close()
        server.stop(grace=None)


def typed_columns(request: pb.ModelInferRequest, rows: list[dict], model) -> None:
    for feature in model.schema.features:
        values = [row[feature.name] for row in rows]
        tensor = request.inputs.add(name=feature.name, shape=[len(rows), 1])
        if feature.kind == "categorical":
            tensor.datatype = "BYTES"
            tensor.contents.bytes_contents.extend(str(v).encode() for v in values)  # no missing categories here
        else:
            tensor.datatype = "FP64"
            tensor.contents.fp64_contents.extend(math.nan if v is None else v for v in values)


def raw_bytes(values: list[str]) -> bytes:
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


def output(response: pb.ModelInferResponse, name: str) -> list:
    index = next(i for i, o in enumerate(response.outputs) if o.name == name)
    tensor = response.outputs[index]
    if response.raw_output_contents:
        raw = response.raw_output_contents[index]
        if tensor.datatype == "BYTES":
            values, offset = [], 0
            while offset < len(raw):
                (length,) = struct.unpack_from("<I", raw, offset)
                values.append(raw[offset + 4:offset + 4 + length].decode())
                offset += 4 + length
            return values
        return np.frombuffer(raw, dtype="<f8").tolist()
    if tensor.datatype == "BYTES":
        return [v.decode() for v in tensor.contents.bytes_contents]
    return list(tensor.contents.fp64_contents)


def test_typed_and_raw_tensors_get_the_native_answers(grpc_served, models):
    stub, app, key, _, _ = grpc_served
    client, headers = app.test_client(), {"X-API-Key": key[0][1]}
    model = served_model(app, "penguins")
    rows = [row for row in request_rows(models["penguins"]) if all(
        row[f.name] is not None for f in model.schema.features if f.kind == "categorical")][:12]
    rows[0][next(f.name for f in model.schema.features if f.kind != "categorical")] = None  # travels as NaN
    expected = native(client, headers, "penguins", rows)

    typed = pb.ModelInferRequest(model_name="penguins", id="typed-1")
    typed_columns(typed, rows, model)
    answer = stub.ModelInfer(typed, metadata=key)
    assert answer.id == "typed-1" and answer.model_name == "penguins" and answer.model_version == model.version
    assert output(answer, "predict") == [p["class"] for p in expected]
    probabilities = np.array(output(answer, "predict_proba")).reshape(len(rows), -1)
    assert probabilities == pytest.approx(np.array([[p["probabilities"][c] for c in model.classes] for p in expected]))
    assert len(set(output(answer, "prediction_id"))) == len(rows)

    raw = pb.ModelInferRequest(model_name="penguins")
    for feature in model.schema.features:
        values = [row[feature.name] for row in rows]
        raw.inputs.add(name=feature.name, shape=[len(rows), 1],
                       datatype="BYTES" if feature.kind == "categorical" else "FP32")
        raw.raw_input_contents.append(raw_bytes(values) if feature.kind == "categorical" else
                                      np.array([math.nan if v is None else v for v in values], "<f4").tobytes())
    answer = stub.ModelInfer(raw, metadata=key)
    assert answer.raw_output_contents  # answered the way it was asked
    assert output(answer, "predict") == [p["class"] for p in expected]


def test_a_matrix_a_regressor_and_a_pinned_version(grpc_served, models):
    stub, app, key, _, _ = grpc_served
    client, headers = app.test_client(), {"X-API-Key": key[0][1]}
    model = served_model(app, "diabetes")
    rows = request_rows(models["diabetes"])[:5]
    names = [f.name for f in model.schema.features]
    request = pb.ModelInferRequest(model_name="diabetes", model_version="v1")
    request.inputs.add(name="rows", datatype="FP64", shape=[len(rows), len(names)]).contents.fp64_contents.extend(
        row[name] for row in rows for name in names)
    answer = stub.ModelInfer(request, metadata=key)
    assert answer.model_version == "v1"
    assert output(answer, "predict") == pytest.approx([v["value"] for v in native(client, headers, "diabetes", rows,
                                                                                  "v1")])


def test_metadata_readiness_and_health(grpc_served):
    stub, _, key, _, channel = grpc_served
    assert stub.ServerLive(pb.ServerLiveRequest()).live and stub.ServerReady(pb.ServerReadyRequest()).ready
    assert stub.ServerMetadata(pb.ServerMetadataRequest()).name == "modelwatch"
    assert stub.ModelReady(pb.ModelReadyRequest(name="penguins"), metadata=key).ready
    described = stub.ModelMetadata(pb.ModelMetadataRequest(name="penguins"), metadata=key)
    assert {t.name: t.datatype for t in described.inputs}["island"] == "BYTES"
    assert [t.name for t in described.outputs] == ["predict", "predict_proba", "prediction_id"]
    assert list(described.versions) == ["v1"]  # the versions loaded (v2 is registered, not deployed)
    assert json.loads(described.properties["classes"]) == ["Adelie", "Chinstrap", "Gentoo"]
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "inference.GRPCInferenceService"):
        assert health.Check(health_pb2.HealthCheckRequest(service=service)).status == \
            health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as refused:
        health.Check(health_pb2.HealthCheckRequest(service="other"))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


def predictions_counted(metrics: CollectorRegistry) -> float:
    app_metrics = [s for f in metrics.collect() if f.name == "model_predictions" for s in f.samples
                   if s.name == "model_predictions_total"]
    return sum(s.value for s in app_metrics)


@pytest.mark.parametrize("change, code, message", [
    (lambda r, k: (r, ()), grpc.StatusCode.UNAUTHENTICATED, "API key is required"),
    (lambda r, k: (r, (("x-api-key", "mw_wrong"),)), grpc.StatusCode.UNAUTHENTICATED, "not valid"),
    (lambda r, k: (pb.ModelInferRequest(model_name="nope", inputs=r.inputs), k), grpc.StatusCode.NOT_FOUND,
     "unknown model"),
    (lambda r, k: (pb.ModelInferRequest(model_name="penguins", model_version="v9", inputs=r.inputs), k),
     grpc.StatusCode.NOT_FOUND, "unknown version"),
    (lambda r, k: (_with(r, shape=[3, 1]), k), grpc.StatusCode.INVALID_ARGUMENT, "needs 3 values"),
    (lambda r, k: (_with(r, datatype="BYTES"), k), grpc.StatusCode.INVALID_ARGUMENT, "is a number"),
    (lambda r, k: (_renamed_first(r), k), grpc.StatusCode.INVALID_ARGUMENT, "'beak_colour' is not an input"),
    (lambda r, k: (_raw_mismatch(r), k), grpc.StatusCode.INVALID_ARGUMENT, "raw_input_contents"),
    (lambda r, k: (_big(r), k), grpc.StatusCode.RESOURCE_EXHAUSTED, ""),
])
def test_bad_calls_get_a_status_and_a_message_and_count_nothing(grpc_served, models, change, code, message):
    stub, app, key, metrics, _ = grpc_served
    request = pb.ModelInferRequest(model_name="penguins")
    typed_columns(request, request_rows(models["penguins"])[:2], served_model(app, "penguins"))
    request = _first_numeric_first(request)
    before = predictions_counted(metrics)
    bad, metadata = change(request, key)
    with pytest.raises(grpc.RpcError) as refused:
        stub.ModelInfer(bad, metadata=metadata)
    assert refused.value.code() == code and message in refused.value.details()
    app.extensions["modelwatch"]["metrics"].flush()
    assert predictions_counted(metrics) == before


def _first_numeric_first(request: pb.ModelInferRequest) -> pb.ModelInferRequest:
    tensors = sorted(request.inputs, key=lambda t: t.datatype == "BYTES")
    reordered = pb.ModelInferRequest(model_name=request.model_name)
    reordered.inputs.extend(tensors)
    return reordered


def _with(request: pb.ModelInferRequest, **fields) -> pb.ModelInferRequest:
    changed = pb.ModelInferRequest()
    changed.CopyFrom(request)
    first = changed.inputs[0]
    if "shape" in fields:
        del first.shape[:]
        first.shape.extend(fields["shape"])
    if "datatype" in fields:
        first.datatype = fields["datatype"]
        first.contents.Clear()
        first.contents.bytes_contents.extend([b"1", b"2"])
    return changed


def _renamed_first(request: pb.ModelInferRequest) -> pb.ModelInferRequest:
    changed = pb.ModelInferRequest()
    changed.CopyFrom(request)
    changed.inputs[0].name = "beak_colour"  # an absent input is a missing value, where the schema allows it
    return changed


def _raw_mismatch(request: pb.ModelInferRequest) -> pb.ModelInferRequest:
    changed = pb.ModelInferRequest()
    changed.CopyFrom(request)
    changed.raw_input_contents.append(b"\x00" * 8)  # one raw tensor for several inputs
    return changed


def _big(request: pb.ModelInferRequest) -> pb.ModelInferRequest:
    changed = pb.ModelInferRequest()
    changed.CopyFrom(request)
    changed.id = "x" * (128 * 1024)  # over the service's body limit (64 KiB here)
    return changed


def test_calls_are_timed_under_opentelemetry_s_names(grpc_served):
    stub, app, key, metrics, _ = grpc_served
    stub.ServerLive(pb.ServerLiveRequest())
    with pytest.raises(grpc.RpcError):
        stub.ModelReady(pb.ModelReadyRequest(name="penguins"))  # no key
    app.extensions["modelwatch"]["metrics"].flush()
    counted = {(s.labels["rpc_method"], s.labels["rpc_grpc_status_code"]): s.value for f in metrics.collect()
               if f.name == "rpc_server_duration_milliseconds" for s in f.samples if s.name.endswith("_count")}
    assert counted[("ServerLive", "0")] == 1 and counted[("ModelReady", "16")] == 1  # 16: UNAUTHENTICATED


def test_a_canary_answers_its_share_over_grpc_and_a_pinned_version_only_itself(grpc_served, models):
    from modelwatch.models.registry import Deployment

    stub, app, key, _, _ = grpc_served
    server = app.extensions["modelwatch"]["servers"]["penguins"]
    server.deploy(Deployment(stable="v1", canary="v2", canary_weight=0.5))
    request = pb.ModelInferRequest(model_name="penguins")
    typed_columns(request, request_rows(models["penguins"])[:1], served_model(app, "penguins"))
    versions = [stub.ModelInfer(request, metadata=key).model_version for _ in range(60)]
    assert 10 < versions.count("v2") < 50 and set(versions) == {"v1", "v2"}  # half each, as over /api/v1
    request.model_version = "v1"
    assert {stub.ModelInfer(request, metadata=key).model_version for _ in range(20)} == {"v1"}
