"""A published Open Inference Protocol client, from PyPI, against the real
service (gunicorn, two workers): Triton's ``tritonclient.http``. Its answers
equal the native API's on the same rows; the prediction ids it brings back take
labels; and the model metrics count its requests under the same model and
version as the native API's."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import requests

from tests.model_service.served import free_port, serve
from tests.own_models import register_all, request_rows
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
http = pytest.importorskip("tritonclient.http")


def _column(name: str, values: list, categorical: bool):
    column = np.array(values, dtype=object if categorical else np.float64).reshape(-1, 1)
    tensor = http.InferInput(name, list(column.shape), "BYTES" if categorical else "FP64")
    tensor.set_data_from_numpy(column, binary_data=False)  # JSON tensors; Triton's binary extension is not served
    return tensor


def _count(base: str, model: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=10).text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("model_predictions_total{") and f'model_name="{model}"' in line
               and 'outcome="success"' in line)


def test_tritons_http_client_gets_the_native_answers(state_dir, keys, models):
    from modelwatch.core.config import load_config

    config = load_config(env={"MODELWATCH_PATHS__STATE_DIR": str(state_dir)})
    register_all(config, models, ("penguins", "diabetes"))
    headers = {"X-API-Key": keys["user"]}
    rows = [row for row in request_rows(models["penguins"]) if None not in row.values()][:20]
    with serve(state_dir, workers=2) as (base, _):
        client = http.InferenceServerClient(url=base.removeprefix("http://"))
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("penguins", headers=headers)
        metadata = client.get_model_metadata("penguins", headers=headers)
        categorical = {i["name"]: i["datatype"] == "BYTES" for i in metadata["inputs"]}
        inputs = [_column(name, [row[name] for row in rows], is_category) for name, is_category in categorical.items()]
        outputs = [http.InferRequestedOutput(name, binary_data=False) for name in ("predict", "predict_proba",
                                                                                      "prediction_id")]
        answer = client.infer("penguins", inputs, outputs=outputs, request_id="triton-1", headers=headers)
        native = requests.post(f"{base}/api/v1/models/penguins/predict", json={"instances": rows}, headers=headers,
                               timeout=10).json()["predictions"]
        assert answer.get_response()["id"] == "triton-1"
        assert [c.decode() if isinstance(c, bytes) else c for c in answer.as_numpy("predict").ravel()] == \
            [p["class"] for p in native]
        classes = metadata["parameters"]["classes"]
        assert answer.as_numpy("predict_proba") == pytest.approx(
            np.array([[p["probabilities"][c] for c in classes] for p in native]))
        ids = [i.decode() if isinstance(i, bytes) else i for i in answer.as_numpy("prediction_id").ravel()]
        labelled = requests.post(f"{base}/api/v1/models/penguins/feedback", headers=headers, timeout=10,
                                 json={"feedback": [{"id": ids[0], "label": native[0]["class"]}]}).json()
        assert labelled["accepted"] == 1

        diabetes = request_rows(models["diabetes"])[:7]
        names = [i["name"] for i in client.get_model_metadata("diabetes", headers=headers)["inputs"]]
        before = _count(base, "diabetes")
        regressed = client.infer("diabetes", [_column(n, [r[n] for r in diabetes], False) for n in names],
                                 headers=headers)
        values = requests.post(f"{base}/api/v1/models/diabetes/predict", json={"instances": diabetes},
                               headers=headers, timeout=10).json()["predictions"]
        assert regressed.as_numpy("predict").ravel() == pytest.approx([v["value"] for v in values])
        # OIP and native alike, same model and version (the other worker's counts arrive at its next flush)
        wait_until(lambda: _count(base, "diabetes") - before == 14, 10,
                   lambda: f"{_count(base, 'diabetes') - before} of 14 counted")

        with pytest.raises(Exception, match="API key"):
            client.infer("diabetes", [_column(names[0], [0.1], False)])  # no key: refused as on /api/v1


def test_tritons_grpc_client_and_every_protocol_count_as_one_model(state_dir, keys, models):
    """tritonclient.grpc against gunicorn's workers on the shared gRPC port: the native answers, and the
    same request over /api/v1, OIP REST and OIP gRPC counted under one model and version."""
    grpc_client = pytest.importorskip("tritonclient.grpc")
    from modelwatch.core.config import load_config

    config = load_config(env={"MODELWATCH_PATHS__STATE_DIR": str(state_dir)})
    register_all(config, models, ("penguins", "diabetes"))
    headers = {"X-API-Key": keys["user"]}
    metadata_key = {"x-api-key": keys["user"]}  # gRPC metadata keys are lower case
    rows = [row for row in request_rows(models["penguins"]) if None not in row.values()][:10]
    grpc_port = free_port()
    with serve(state_dir, workers=2, grpc_port=grpc_port) as (base, _):
        client = grpc_client.InferenceServerClient(url=f"127.0.0.1:{grpc_port}")
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("penguins", headers=metadata_key)
        metadata = client.get_model_metadata("penguins", headers=metadata_key, as_json=True)
        inputs = []
        for tensor in metadata["inputs"]:
            categorical = tensor["datatype"] == "BYTES"
            column = np.array([row[tensor["name"]] for row in rows], dtype=object if categorical else np.float64)
            infer_input = grpc_client.InferInput(tensor["name"], [len(rows), 1], tensor["datatype"])
            infer_input.set_data_from_numpy(column.reshape(-1, 1))  # Triton's client sends raw tensors
            inputs.append(infer_input)
        before = _count(base, "penguins")
        answer = client.infer("penguins", inputs, request_id="g-1", headers=metadata_key)
        native = requests.post(f"{base}/api/v1/models/penguins/predict", json={"instances": rows}, headers=headers,
                               timeout=10).json()["predictions"]
        rest = requests.post(f"{base}/v2/models/penguins/infer", headers=headers, timeout=10, json={
            "inputs": [{"name": t["name"], "shape": [len(rows), 1], "datatype": t["datatype"],
                        "data": [row[t["name"]] for row in rows]} for t in metadata["inputs"]]}).json()
        assert answer.get_response().id == "g-1"
        assert [c.decode() for c in answer.as_numpy("predict").ravel()] == [p["class"] for p in native] == \
            rest["outputs"][0]["data"]
        # Triton's proto has no properties field: the classes come from the REST metadata
        classes = requests.get(f"{base}/v2/models/penguins", headers=headers, timeout=10).json()["parameters"]["classes"]
        assert answer.as_numpy("predict_proba") == pytest.approx(
            np.array([[p["probabilities"][c] for c in classes] for p in native]))
        ids = [i.decode() for i in answer.as_numpy("prediction_id").ravel()]
        labelled = requests.post(f"{base}/api/v1/models/penguins/feedback", headers=headers, timeout=10,
                                 json={"feedback": [{"id": ids[0], "label": native[0]["class"]}]}).json()
        assert labelled["accepted"] == 1
        wait_until(lambda: _count(base, "penguins") - before == 3 * len(rows), 10,
                   lambda: f"{_count(base, 'penguins') - before} of {3 * len(rows)} counted")
        text = requests.get(f"{base}/metrics", timeout=10).text
        assert 'rpc_server_duration_milliseconds_count{rpc_grpc_status_code="0",rpc_method="ModelInfer"' in text

        with pytest.raises(Exception, match="API key"):
            client.infer("penguins", inputs)  # no key: refused as on /api/v1


def test_a_grpc_port_another_process_holds_stops_the_service_with_one_line(state_dir):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(AssertionError, match=f"service.grpc_port: cannot bind 127.0.0.1:{taken}"):
            with serve(state_dir, workers=1, grpc_port=taken):
                pass
