"""The versioned REST API, /api/v1."""

from __future__ import annotations

import json
import math
from time import perf_counter
from typing import Any

import numpy as np
import orjson
from flask import Blueprint, Request, Response, request

from modelwatch.model_service.auth import require_key
from modelwatch.model_service.inputs import InputError, batch_rows, classify_row
from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.metrics import ServiceMetrics
from modelwatch.model_service.loading import LoadedModel
from modelwatch.models.registry import Deployment
from modelwatch.model_service.serving import ModelServer, request_reload
from modelwatch.model_service.tabular_api import TabularApi
from modelwatch.core.config import ServiceConfig
from modelwatch.core.errors import ModelwatchError

JSON_TYPES = ("application/json",)
FORM_TYPE = "application/x-www-form-urlencoded"


def json_response(document: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(document), status=status, mimetype="application/json")


def _parse_body(request: Request, allow_form: bool) -> tuple[list | None, Any]:
    """(form pairs, JSON document) of the request body; (None, None) when empty."""
    environ = request.environ
    if environ.get("CONTENT_LENGTH", "") in ("", "0") and "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", ""):
        return None, None
    mimetype = request.mimetype
    if mimetype in JSON_TYPES or mimetype.endswith("+json"):
        data = request.get_data(cache=False)
        try:
            return None, json.loads(data)
        except ValueError as exc:
            raise InputError(f"body is not valid JSON: {exc}", code="invalid_json") from None
        except RecursionError:
            raise InputError("body is not valid JSON: nested too deeply", code="invalid_json") from None
    if allow_form and mimetype == FORM_TYPE:
        return list(request.form.items(multi=True)), None
    accepted = "application/json or application/x-www-form-urlencoded" if allow_form else "application/json"
    raise InputError(
        f"unsupported content type {mimetype or '(none)'!r}: send {accepted}", status=415, code="unsupported_media_type"
    )


def create_api(server: ModelServer, keystore: KeyStore, metrics: ServiceMetrics | None, config: ServiceConfig,
               tabular: TabularApi) -> Blueprint:
    api = Blueprint("api_v1", __name__, url_prefix="/api/v1")
    user = require_key(keystore, metrics)
    admin = require_key(keystore, metrics, role="admin")

    def model_for(version: str | None) -> LoadedModel:
        state = server.state
        if state is None:
            raise InputError("no model is loaded yet", status=503, code="not_ready")
        if version is None:
            return server.choose()
        model = state.models.get(version)
        if model is None:
            raise InputError(
                f"unknown model version {version!r}; loaded: {', '.join(state.models)}",
                "version",
                status=404,
                code="unknown_version",
            )
        return model

    def predict(model: LoadedModel, rows: list[list[float]] | np.ndarray) -> tuple[list[str], list[list[float]]]:
        """Classes and probabilities per row; records the model metrics."""
        started = perf_counter()
        try:
            with np.errstate(all="ignore"):  # overflow on extreme inputs: judged on the result below
                if len(rows) == 1:
                    probabilities = [model.predictor.predict_row(rows[0])]
                else:
                    probabilities = model.predictor.predict_proba(rows).tolist()
        except Exception:
            if metrics:
                metrics.prediction_failed(model, len(rows))
            raise
        elapsed = perf_counter() - started
        if not all(math.isfinite(x) for p in probabilities for x in p):
            # extreme inputs overflow the model: refused, counted as failed rows, kept out of the confidence metrics
            if metrics:
                metrics.prediction_failed(model, len(rows))
            raise InputError("the model gives no finite answer for these inputs", status=422, code="non_finite_answer")
        classes = model.predictor.classes
        best = [max(range(len(p)), key=p.__getitem__) for p in probabilities]
        labels = [classes[i] for i in best]
        if metrics:
            metrics.observe_prediction(model, elapsed, rows, best, [p[i] for p, i in zip(probabilities, best)])
        return labels, probabilities

    def result(classes: tuple[str, ...], label: str, probabilities: list[float]) -> dict:
        return {
            "species": label,
            "confidence": max(probabilities),
            "probabilities": dict(zip(classes, probabilities)),
        }

    def classify_in(model: LoadedModel) -> Response:
        req = request._get_current_object()
        form, body = _parse_body(req, allow_form=True)
        row = classify_row(req.args.items(multi=True), form, body, model.feature_names)
        labels, probabilities = predict(model, [row])
        document = result(model.predictor.classes, labels[0], probabilities[0])
        document["model"] = model.name
        document["model_version"] = model.version
        return json_response(document)

    def predict_in(model: LoadedModel) -> Response:
        req = request._get_current_object()
        extra = [name for name in req.args if name != "key"]
        if extra:
            raise InputError(f"unknown query parameter '{extra[0]}'", extra[0])
        form, body = _parse_body(req, allow_form=False)
        if body is None:
            raise InputError('send a JSON body: {"instances": [...]}', code="missing_body")
        rows = batch_rows(body, model.feature_names, config.max_batch_size)
        labels, probabilities = predict(model, rows)
        classes = model.predictor.classes
        return json_response(
            {
                "model": model.name,
                "model_version": model.version,
                "predictions": [result(classes, label, p) for label, p in zip(labels, probabilities)],
            }
        )

    @api.route("/classify", methods=["GET", "POST"])
    @user
    def classify():
        return classify_in(model_for(None))

    # /models/<name>/...: a registered model by name; otherwise a version of the default model.
    @api.route("/models/<name>/classify", methods=["GET", "POST"])
    @user
    def classify_version(name: str):
        if name in tabular.servers:
            return tabular_classify(name, None)
        return classify_in(model_for(name))

    @api.route("/predict", methods=["POST"])
    @user
    def predict_batch():
        return predict_in(model_for(None))

    @api.route("/models/<name>/predict", methods=["POST"])
    @user
    def predict_batch_version(name: str):
        if name in tabular.servers:
            return tabular_predict(name, None)
        return predict_in(model_for(name))

    @api.route("/models/<name>/versions/<version>/classify", methods=["GET", "POST"])
    @user
    def classify_pinned(name: str, version: str):
        return tabular_classify(_registered(name), version)

    @api.route("/models/<name>/versions/<version>/predict", methods=["POST"])
    @user
    def predict_pinned(name: str, version: str):
        return tabular_predict(_registered(name), version)

    def _registered(name: str) -> str:
        if name not in tabular.servers:
            raise InputError(f"unknown model {name!r}; registered: {', '.join(sorted(tabular.servers)) or 'none'}",
                             "model", status=404, code="unknown_model")
        return name

    def tabular_classify(name: str, version: str | None) -> Response:
        req = request._get_current_object()
        form, body = _parse_body(req, allow_form=True)
        document, headers = tabular.classify(name, version, req, form, body)
        response = json_response(document)
        response.headers.update(headers)
        return response

    def tabular_predict(name: str, version: str | None) -> Response:
        req = request._get_current_object()
        extra = [name for name in req.args if name != "key"]
        if extra:
            raise InputError(f"unknown query parameter '{extra[0]}'", extra[0])
        _, body = _parse_body(req, allow_form=False)
        return json_response(tabular.predict(name, version, body))

    def describe(model: LoadedModel, state) -> dict:
        meta = model.metadata
        return {
            "name": model.name,
            "version": model.version,
            "role": state.role(model.version),
            "weight": state.deployment.canary_weight if state.role(model.version) == "canary" else 1 - state.deployment.canary_weight,
            "predictor": type(model.predictor).__name__,
            "load_seconds": model.load_seconds,
            **{k: meta[k] for k in ("created", "algorithm", "features", "classes", "metrics", "libraries", "sha256")},
        }

    @api.route("/models", methods=["GET"])
    @user
    def models():
        state = server.state
        if state is None:
            raise InputError("no model is loaded yet", status=503, code="not_ready")
        return json_response({"models": [describe(m, state) for m in state.models.values()],
                              "registered": tabular.describe()})

    def deployment_document() -> dict:
        state = server.state
        deployment = state.deployment if state else None
        return {
            "deployment": None if deployment is None else {
                "stable": deployment.stable,
                "canary": deployment.canary,
                "canary_weight": deployment.canary_weight,
            },
            "registered_versions": server.registry.versions(),
            "last_error": server.last_error,
        }

    @api.route("/admin/reload", methods=["POST"])
    @admin
    def reload():
        try:
            server.reload()
        except ModelwatchError as exc:
            raise InputError(str(exc), status=409, code="reload_rejected") from None
        request_reload(server.registry)  # the other workers follow
        return json_response(deployment_document())

    @api.route("/admin/deployment", methods=["GET"])
    @admin
    def get_deployment():
        return json_response(deployment_document())

    @api.route("/admin/deployment", methods=["PUT"])
    @admin
    def put_deployment():
        _, body = _parse_body(request._get_current_object(), allow_form=False)
        if not isinstance(body, dict):
            raise InputError('send a JSON object: {"stable": "v1", "canary": "v2", "canary_weight": 0.1}')
        unknown = [k for k in body if k not in ("stable", "canary", "canary_weight")]
        if unknown:
            raise InputError(f"unknown field '{unknown[0]}'", unknown[0])
        if not isinstance(body.get("stable"), str):
            raise InputError("field 'stable' must be a version name", "stable")
        canary = body.get("canary")
        if canary is not None and not isinstance(canary, str):
            raise InputError("field 'canary' must be a version name or null", "canary")
        weight = body.get("canary_weight", 0.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise InputError("field 'canary_weight' must be a number between 0 and 1", "canary_weight")
        deployment = Deployment(body["stable"], canary, float(weight))
        problems = deployment.problems()
        if problems:
            raise InputError("invalid deployment: " + "; ".join(problems), problems[0].split(":")[0])
        try:
            server.deploy(deployment)
        except ModelwatchError as exc:
            raise InputError(str(exc), status=409, code="deployment_rejected") from None
        return json_response(deployment_document())

    return api
