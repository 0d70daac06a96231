"""The Open Inference Protocol (v2) over gRPC: ``inference.GRPCInferenceService``
(ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata, ModelInfer)
from the published .proto (model_service/protocol/), for every registered model.

Every gunicorn worker runs one gRPC server on ``service.grpc_port`` (the kernel
spreads connections over the workers, SO_REUSEPORT), beside its HTTP threads and
with the same models, keys and metrics. A call goes the way a REST call to /v2
goes (model_service/oip.py): the tensors become rows, the rows go through the
same validation, model, metrics and prediction ids, and the answers become
``predict``, ``predict_proba`` and ``prediction_id`` tensors. Inputs come as
typed ``contents`` or as ``raw_input_contents`` (little-endian, BYTES
length-prefixed, as Triton sends them); the answer comes the same way. A NaN
in a number tensor is a missing value (JSON has null for that; a tensor has not).

The API key travels as the ``x-api-key`` metadata. Errors are gRPC status codes
with /api/v1's message: 400/422 → INVALID_ARGUMENT, 401 → UNAUTHENTICATED,
403 → PERMISSION_DENIED, 404 → NOT_FOUND, 413/429 → RESOURCE_EXHAUSTED,
503 → UNAVAILABLE. Each call is timed in ``rpc_server_duration_milliseconds``.
"""

from __future__ import annotations

import json
import logging
import math
import struct
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from time import perf_counter

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelwatch.model_service.inputs import InputError
from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.metrics import ServiceMetrics
from modelwatch.model_service.oip import model_metadata, outputs, rows_of
from modelwatch.protocol import open_inference_grpc_pb2 as pb
from modelwatch.protocol import open_inference_grpc_pb2_grpc as pb_grpc
from modelwatch.model_service.tabular_api import TabularApi

log = logging.getLogger(__name__)
SERVICE = "inference.GRPCInferenceService"
CONTENTS = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
            "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
            "UINT32": "uint_contents", "UINT64": "uint64_contents", "FP32": "fp32_contents",
            "FP64": "fp64_contents", "BYTES": "bytes_contents"}
RAW = {"BOOL": "?", "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8", "UINT8": "<u1", "UINT16": "<u2",
       "UINT32": "<u4", "UINT64": "<u8", "FP16": "<f2", "FP32": "<f4", "FP64": "<f8"}
STATUS = {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
          403: grpc.StatusCode.PERMISSION_DENIED, 404: grpc.StatusCode.NOT_FOUND,
          413: grpc.StatusCode.RESOURCE_EXHAUSTED, 422: grpc.StatusCode.INVALID_ARGUMENT,
          429: grpc.StatusCode.RESOURCE_EXHAUSTED, 503: grpc.StatusCode.UNAVAILABLE}


def _text(value: bytes, where: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise InputError(f"{where}: BYTES values must be UTF-8 text") from None


def _raw_values(raw: bytes, datatype: str, where: str) -> list:
    """A raw tensor's values, flat: fixed-width little-endian numbers, or BYTES as 4-byte length + bytes."""
    if datatype == "BYTES":
        values, offset = [], 0
        while offset < len(raw):
            if offset + 4 > len(raw):
                raise InputError(f"{where}: raw BYTES end inside a length prefix")
            (length,) = struct.unpack_from("<I", raw, offset)
            if offset + 4 + length > len(raw):
                raise InputError(f"{where}: raw BYTES element longer than the data left")
            values.append(_text(raw[offset + 4:offset + 4 + length], where))
            offset += 4 + length
        return values
    dtype = RAW.get(datatype)
    if dtype is None:
        raise InputError(f"{where}: unknown datatype {datatype!r}")
    if len(raw) % np.dtype(dtype).itemsize:
        raise InputError(f"{where}: {len(raw)} raw bytes are not a whole number of {datatype} values")
    return np.frombuffer(raw, dtype=dtype).tolist()


def request_body(request: pb.ModelInferRequest) -> dict:
    """The call as the REST body /v2 reads: {"id", "inputs": [{"name", "shape", "datatype", "data"}]}."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InputError(f"raw_input_contents: {len(raw)} given for {len(request.inputs)} inputs (one each)")
    inputs = []
    for i, tensor in enumerate(request.inputs):
        where = f"inputs[{i}]"
        if raw:
            data = _raw_values(raw[i], tensor.datatype, where)
        elif tensor.datatype in CONTENTS:
            data = list(getattr(tensor.contents, CONTENTS[tensor.datatype]))
            if tensor.datatype == "BYTES":
                data = [_text(value, where) for value in data]
        else:
            raise InputError(f"{where}: datatype {tensor.datatype!r} has no typed contents; send it raw")
        data = [None if isinstance(v, float) and math.isnan(v) else v for v in data]  # NaN: missing
        inputs.append({"name": tensor.name, "shape": list(tensor.shape), "datatype": tensor.datatype, "data": data})
    return {"id": request.id, "inputs": inputs}


def response_of(model, answers, ids: list[str], request_id: str, raw: bool) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(model_name=model.name, model_version=model.version, id=request_id)
    for output in outputs(model, answers, ids):
        tensor = response.outputs.add(name=output["name"], datatype=output["datatype"], shape=output["shape"])
        data = output["data"]
        if output["datatype"] == "BYTES":
            encoded = [str(value).encode() for value in data]
            if raw:
                response.raw_output_contents.append(b"".join(struct.pack("<I", len(v)) + v for v in encoded))
            else:
                tensor.contents.bytes_contents.extend(encoded)
        elif raw:
            response.raw_output_contents.append(np.asarray(data, dtype=RAW[output["datatype"]]).tobytes())
        else:
            getattr(tensor.contents, CONTENTS[output["datatype"]]).extend(data)
    return response


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, keystore: KeyStore, metrics: ServiceMetrics | None, tabular: TabularApi):
        self.keystore, self.metrics, self.tabular = keystore, metrics, tabular

    def _call(self, method: str, context, answer, keyed: bool = True):
        """Run one call: key check, answer, errors as status codes, timing."""
        started = perf_counter()
        code = grpc.StatusCode.OK
        try:
            if keyed:
                self._authenticate(context, method)
            return answer()
        except InputError as exc:
            code = STATUS.get(exc.status, grpc.StatusCode.INTERNAL)
            context.abort(code, exc.message)
        except Exception:
            code = grpc.StatusCode.INTERNAL
            log.exception("gRPC %s failed", method)
            context.abort(code, "internal error (logged by the service)")
        finally:
            if self.metrics:
                self.metrics.rpc_finished(SERVICE, method, code.value[0], (perf_counter() - started) * 1000)

    def _authenticate(self, context, method: str) -> None:
        presented = next((value for key, value in context.invocation_metadata() if key == "x-api-key"), None)
        reason = "missing" if not presented else None
        client = None if reason else self.keystore.authenticate(presented)
        if client is None:
            reason = reason or "unknown"
            if self.metrics:
                self.metrics.auth_failed(reason)
            raise InputError("an API key is required: send it as the x-api-key metadata" if reason == "missing"
                             else "the API key is not valid", status=401)
        if self.metrics:
            self.metrics.client_request(client.name, f"/{SERVICE}/{method}")

    def _model(self, name: str, version: str):
        if name not in self.tabular.servers:
            raise InputError(f"unknown model {name!r}; registered: {', '.join(sorted(self.tabular.servers))}",
                             status=404)
        return self.tabular.model(name, version or None)

    def ServerLive(self, request, context):
        return self._call("ServerLive", context, lambda: pb.ServerLiveResponse(live=True), keyed=False)

    def ready(self) -> bool:
        """Every registered model loaded (as /readyz and /v2/health/ready judge it)."""
        return all(server.state is not None for server in self.tabular.servers.values()
                   if server.state or server.registry.versions())

    def ServerReady(self, request, context):
        return self._call("ServerReady", context, lambda: pb.ServerReadyResponse(ready=self.ready()), keyed=False)

    def ServerMetadata(self, request, context):
        return self._call("ServerMetadata", context, lambda: pb.ServerMetadataResponse(
            name="modelwatch", version=metadata.version("modelwatch")), keyed=False)

    def ModelReady(self, request, context):
        def ready():
            try:
                self._model(request.name, request.version)
            except InputError as exc:
                if exc.status != 503:
                    raise
                return pb.ModelReadyResponse(ready=False)
            return pb.ModelReadyResponse(ready=True)
        return self._call("ModelReady", context, ready)

    def ModelMetadata(self, request, context):
        def describe():
            model = self._model(request.name, request.version)
            document = model_metadata(model, list(self.tabular.servers[request.name].state.models))
            answer = pb.ModelMetadataResponse(name=document["name"], versions=document["versions"],
                                              platform=document["platform"])
            for side in ("inputs", "outputs"):
                for tensor in document[side]:
                    getattr(answer, side).add(name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"])
            answer.properties.update({key: value if isinstance(value, str) else json.dumps(value)
                                      for key, value in document["parameters"].items()})  # classes: a JSON list
            return answer
        return self._call("ModelMetadata", context, describe)

    def ModelInfer(self, request, context):
        def infer():
            model = self._model(request.model_name, request.model_version)
            body = request_body(request)
            rows = rows_of(body, model, self.tabular.max_batch)
            return response_of(model, *self.tabular.answer_arrays(model, rows), request.id,
                               raw=bool(request.raw_input_contents))
        return self._call("ModelInfer", context, infer)


class HealthServicer(health_pb2_grpc.HealthServicer):
    """grpc.health.v1, which Kubernetes' gRPC probes call. The server as a whole (service "") is
    SERVING whenever it answers: the liveness probe's question. The inference service, by name, is
    SERVING once every registered model has loaded: the readiness question, as /readyz answers it."""

    def __init__(self, servicer: InferenceServicer):
        self.servicer = servicer

    def Check(self, request, context):
        if request.service not in ("", SERVICE):
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        ready = request.service == "" or self.servicer.ready()
        status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        return health_pb2.HealthCheckResponse(status=status)


def start_server(servicer: InferenceServicer, host: str, port: int, threads: int, max_message_bytes: int):
    """A gRPC server for this worker on the shared port; None (and an error logged) when it cannot listen."""
    server = grpc.server(ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc"),
                         options=[("grpc.so_reuseport", 1), ("grpc.max_receive_message_length", max_message_bytes),
                                  ("grpc.max_send_message_length", -1)])
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(servicer), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        server.add_insecure_port(address)
    except RuntimeError as exc:
        log.error("gRPC: cannot listen on %s (%s); this worker serves HTTP only", address, exc)
        return None
    server.start()
    return server


def serve_app(app, settings) -> grpc.Server | None:
    """The gRPC server of a worker whose Flask app has loaded: its models, keys and metrics."""
    parts = app.extensions["modelwatch"]
    servicer = InferenceServicer(parts["keys"], parts["metrics"], parts["tabular"])
    return start_server(servicer, settings.host, settings.grpc_port, settings.threads, settings.max_body_bytes)
