"""The Open Inference Protocol (v2) over REST, beside /api/v1, for every
registered model: the routes KServe, MLServer, Triton and Seldon Core v2 speak,
so their clients work unchanged.

    GET  /v2                                          server metadata
    GET  /v2/health/live | /v2/health/ready           server live / ready
    GET  /v2/models/NAME[/versions/V]                 model metadata (one input per feature)
    GET  /v2/models/NAME[/versions/V]/ready           model ready
    POST /v2/models/NAME[/versions/V]/infer           inference

An inference request names one input per feature (the tabular convention,
MLServer's ``content_type: "pd"``), or, for a model whose features are all
numbers, one 2-D FP32/FP64 tensor of rows in the schema's order. The rows go
through the same validation, model, metrics and prediction ids as /api/v1; the
answer has ``predict`` (the class, or the value), ``predict_proba`` for a
classifier that gives probabilities (columns in the model's class order) and
``prediction_id`` (send it back with the label). Errors are ``{"error": "…"}``
with the status /api/v1 would use. The same API keys apply (X-API-Key)."""

from __future__ import annotations

import itertools
import math
from importlib import metadata

import orjson
from flask import Blueprint, request

from modelwatch.model_service.api import body_within_limit, json_response
from modelwatch.model_service.auth import AuthError, require_key
from modelwatch.model_service.inputs import InputError
from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.metrics import ServiceMetrics
from modelwatch.model_service.artifacts import Answers
from modelwatch.model_service.tabular import TabularModel, batch_values, passes_unchanged
from modelwatch.model_service.tabular_api import TabularApi

NUMBER_TYPES = {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
PLATFORM = "modelwatch_tabular"


def _tensor_rows(tensor: dict, where: str) -> tuple[list, list[int]]:
    """A tensor's data, flat and row-major, and its shape, checked against each other."""
    if not isinstance(tensor, dict):
        raise InputError(f"{where}: expected an object with name, shape, datatype and data")
    missing = [key for key in ("name", "shape", "datatype", "data") if key not in tensor]
    if missing:
        raise InputError(f"{where}: missing {', '.join(missing)}")
    shape = tensor["shape"]
    if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InputError(f"{where}: shape must be a list of non-negative integers")
    data = tensor["data"]
    flat = _flat(data) if isinstance(data, list) else None
    if flat is None or len(flat) != math.prod(shape):
        raise InputError(f"{where}: shape {shape} needs {math.prod(shape)} values, data has "
                         f"{'none' if flat is None else len(flat)}")
    return flat, shape


def _flat(data: list) -> list:
    """Row-major values of nested lists. Flat data, or rows of values, are taken with C-level calls
    (a 100-row request's 400 values through a generator cost more than the rest of reading it)."""
    types = set(map(type, data))
    if list not in types:
        return data
    if types == {list}:
        values = list(itertools.chain.from_iterable(data))
        if list not in set(map(type, values)):
            return values
    return list(_flattened(data))


def _flattened(data: list):
    """Row-major values of nested lists, without recursion (a body may nest a thousand deep)."""
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            yield value
        else:
            stack.pop()


def json_body(req) -> object:
    """The request's JSON, whatever its content type says (clients of the protocol differ: Triton's
    sends none). Triton's binary-tensor extension is refused with a way out."""
    data = body_within_limit(req)
    declared = req.headers.get("Inference-Header-Content-Length")
    if declared is not None and declared.strip() != str(len(data)):
        raise InputError("binary tensor data (Triton's extension) is not served: send the tensors as JSON "
                         "(binary_data=False)")
    if not data:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON: {exc}") from None


def rows_of(body, model: TabularModel, max_batch: int) -> list[dict]:
    """The request's rows, validated as /api/v1 validates its instances; InputError says what is wrong.
    Columns whose every value is what validation would pass unchanged (floats, finite, for a feature
    without bounds; short strings for a category) become rows at once: the common large request
    costs no per-value Python; anything else goes through /api/v1's validation row by row."""
    columns = _columns(body, model)
    names = model.schema.feature_names
    count = len(next(iter(columns.values())))
    if 0 < count <= max_batch and set(columns) == set(names) and all(
            passes_unchanged(feature, columns[feature.name]) for feature in model.schema.features):
        return [dict(zip(names, values)) for values in zip(*(columns[name] for name in names))]
    instances = [{name: values[r] for name, values in columns.items()} for r in range(count)]
    return batch_values({"instances": instances}, model.schema, max_batch)


def _columns(body, model: TabularModel) -> dict[str, list]:
    """The request's values per input name, of equal lengths (not yet validated)."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise InputError('send {"inputs": [{"name", "shape", "datatype", "data"}, ...]}')
    features = model.schema.features
    names = [f.name for f in features]
    inputs = body["inputs"]
    first = inputs[0]
    if len(inputs) == 1 and isinstance(first, dict) and first.get("name") not in names:
        return _from_matrix(first, model)  # one tensor that is no feature: a matrix of rows
    columns: dict[str, list] = {}
    for i, tensor in enumerate(inputs):
        flat, shape = _tensor_rows(tensor, f"inputs[{i}]")
        name = tensor["name"]
        if name not in names:
            raise InputError(f"inputs[{i}]: {name!r} is not an input of {model.name} ({', '.join(names[:20])})")
        if name in columns:
            raise InputError(f"inputs[{i}]: {name!r} is given twice")
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InputError(f"inputs[{i}]: a column's shape is [rows] or [rows, 1], not {shape}")
        feature = features[names.index(name)]
        numeric = feature.kind != "categorical"
        if numeric and tensor["datatype"] not in NUMBER_TYPES:
            raise InputError(f"inputs[{i}]: {name} is a number, not {tensor['datatype']}")
        if not numeric and tensor["datatype"] != "BYTES":
            raise InputError(f"inputs[{i}]: {name} is a category: send it as BYTES, not {tensor['datatype']}")
        columns[name] = flat
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise InputError(f"the inputs have different numbers of rows: {sorted(lengths)}")
    return columns


def _from_matrix(tensor: dict, model: TabularModel) -> dict[str, list]:
    """One 2-D tensor of rows, its columns the features in the schema's order (numbers only)."""
    flat, shape = _tensor_rows(tensor, "inputs[0]")
    features = model.schema.features
    if any(f.kind == "categorical" for f in features):
        raise InputError(f"{model.name} has categorical features: send one input per feature "
                         f"({', '.join(f.name for f in features[:20])})")
    if tensor["datatype"] not in ("FP32", "FP64"):
        raise InputError(f"inputs[0]: a matrix of rows must be FP32 or FP64, not {tensor['datatype']}")
    if len(shape) != 2 or shape[1] != len(features):
        raise InputError(f"inputs[0]: {tensor['name']!r} is not an input of {model.name}; a matrix of rows must "
                         f"have shape [rows, {len(features)}], not {shape}")
    width = shape[1]
    return {feature.name: flat[j::width] for j, feature in enumerate(features)}


def outputs(model: TabularModel, answers: Answers, ids: list[str]) -> list[dict]:
    """The answers as tensors, straight from the model's arrays (no document per row)."""
    rows = len(ids)
    ids_tensor = {"name": "prediction_id", "shape": [rows, 1], "datatype": "BYTES", "data": ids}
    if answers.labels is None:
        return [{"name": "predict", "shape": [rows, 1], "datatype": "FP64", "data": answers.values.tolist()},
                ids_tensor]
    found = [{"name": "predict", "shape": [rows, 1], "datatype": "BYTES", "data": list(answers.labels)}]
    if answers.probabilities is not None:  # columns in the model's class order
        found.append({"name": "predict_proba", "shape": [rows, len(model.classes)], "datatype": "FP64",
                      "data": answers.probabilities.ravel().tolist()})
    return [*found, ids_tensor]


def model_metadata(model: TabularModel, versions: list[str]) -> dict:
    datatypes = {"categorical": "BYTES"}
    answer_type = "BYTES" if model.classes else "FP64"
    document = {
        "name": model.name, "versions": versions, "platform": PLATFORM,
        "inputs": [{"name": f.name, "datatype": datatypes.get(f.kind, "FP64"), "shape": [-1, 1]}
                   for f in model.schema.features],
        "outputs": [{"name": "predict", "datatype": answer_type, "shape": [-1, 1]},
                    {"name": "prediction_id", "datatype": "BYTES", "shape": [-1, 1]}],
        "parameters": {"content_type": "pd", "task": model.schema.task},
    }
    if model.classes:
        document["outputs"].insert(1, {"name": "predict_proba", "datatype": "FP64",
                                       "shape": [-1, len(model.classes)]})
        document["parameters"]["classes"] = list(model.classes)
    return document


def create_oip(keystore: KeyStore, metrics: ServiceMetrics | None, tabular: TabularApi) -> Blueprint:
    oip = Blueprint("oip_v2", __name__, url_prefix="/v2")
    user = require_key(keystore, metrics)

    def model_of(name: str, version: str | None) -> TabularModel:
        if name not in tabular.servers:
            raise InputError(f"unknown model {name!r}; registered: {', '.join(sorted(tabular.servers))}", status=404)
        return tabular.model(name, version)

    @oip.get("")
    def server_metadata():
        return json_response({"name": "modelwatch", "version": metadata.version("modelwatch"), "extensions": []})

    @oip.get("/health/live")
    def live():
        return json_response({"live": True})

    @oip.get("/health/ready")
    def ready():
        loaded = all(server.state is not None for server in tabular.servers.values()
                     if server.state or server.registry.versions())
        return json_response({"ready": loaded}, 200 if loaded else 503)

    @oip.get("/models/<name>")
    @oip.get("/models/<name>/versions/<version>")
    @user
    def describe(name: str, version: str | None = None):
        model = model_of(name, version)
        return json_response(model_metadata(model, list(tabular.servers[name].state.models)))

    @oip.get("/models/<name>/ready")
    @oip.get("/models/<name>/versions/<version>/ready")
    @user
    def model_ready(name: str, version: str | None = None):
        try:
            model_of(name, version)
        except InputError as exc:
            if exc.status != 503:
                raise
            return json_response({"name": name, "ready": False}, 503)
        return json_response({"name": name, "ready": True})

    @oip.post("/models/<name>/infer")
    @oip.post("/models/<name>/versions/<version>/infer")
    @user
    def infer(name: str, version: str | None = None):
        model = model_of(name, version)
        body = json_body(request._get_current_object())
        rows = rows_of(body, model, tabular.max_batch)
        document = {"model_name": model.name, "model_version": model.version,
                    "outputs": outputs(model, *tabular.answer_arrays(model, rows))}
        if isinstance(body.get("id"), str):
            document["id"] = body["id"]
        return json_response(document)

    @oip.errorhandler(InputError)
    def input_error(exc: InputError):
        response = json_response({"error": exc.message}, exc.status)
        if isinstance(exc, AuthError) and exc.status == 401:
            response.headers["WWW-Authenticate"] = 'ApiKey header="X-API-Key"'
        return response

    return oip
