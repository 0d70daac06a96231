"""The versioned REST API, /api/v1."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import orjson
from flask import Blueprint, Request, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from modelwatch.model_service.auth import require_key
from modelwatch.model_service.inputs import InputError
from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.metrics import ServiceMetrics
from modelwatch.models.registry import Deployment, RegistryNotWritable
from modelwatch.model_service.serving import request_reload
from modelwatch.model_service.tabular_api import TabularApi
from modelwatch.core.errors import ModelwatchError

JSON_TYPES = ("application/json",)
FORM_TYPE = "application/x-www-form-urlencoded"


def json_response(document: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(document), status=status, mimetype="application/json")


def body_within_limit(request: Request) -> bytes:
    """The body, or a 413 once it passes the limit. Werkzeug checks a declared Content-Length itself, but
    hands a chunked body (no length; gunicorn sets wsgi.input_terminated) over unlimited."""
    limit = request.max_content_length
    if request.content_length is not None or limit is None:
        return request.get_data(cache=False)
    chunks, size = [], 0
    while chunk := request.stream.read(min(1 << 16, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise RequestEntityTooLarge()
    return b"".join(chunks)


def json_document(data: bytes) -> Any:
    """The body's JSON. orjson reads a 1,000-label body in 0.27 ms where the standard parser takes
    0.49; what orjson refuses is read again by the standard parser, so NaN, a lone surrogate, an
    integer of hundreds of digits or a UTF-16 body get the same answer as before: a field named as
    invalid, or a one-line JSON error."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def parse_body(request: Request, allow_form: bool) -> tuple[list | None, Any]:
    """(form pairs, JSON document) of the request body; (None, None) when empty."""
    environ = request.environ
    if environ.get("CONTENT_LENGTH", "") in ("", "0") and "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", ""):
        return None, None
    mimetype = request.mimetype
    if mimetype in JSON_TYPES or mimetype.endswith("+json"):
        data = body_within_limit(request)
        try:
            return None, json_document(data)
        except ValueError as exc:
            raise InputError(f"body is not valid JSON: {exc}", code="invalid_json") from None
        except RecursionError:
            raise InputError("body is not valid JSON: nested too deeply", code="invalid_json") from None
    if allow_form and mimetype == FORM_TYPE:
        if request.content_length is None:  # chunked: werkzeug's form parser would read it unlimited
            return parse_qsl(body_within_limit(request).decode("utf-8", "replace"), keep_blank_values=True), None
        return list(request.form.items(multi=True)), None
    accepted = "application/json or application/x-www-form-urlencoded" if allow_form else "application/json"
    raise InputError(
        f"unsupported content type {mimetype or '(none)'!r}: send {accepted}", status=415, code="unsupported_media_type"
    )


TALK_CLASS_FIELD = "species"  # the talk's name for the class, kept on the default model's own routes


def create_api(keystore: KeyStore, metrics: ServiceMetrics | None, tabular: TabularApi, default: str) -> Blueprint:
    """/api/v1: every registered model by name, and the default one (``model.name``) also on the talk's
    routes (/classify, /predict, and /models/VERSION/... for its versions)."""
    api = Blueprint("api_v1", __name__, url_prefix="/api/v1")
    user = require_key(keystore, metrics)
    admin = require_key(keystore, metrics, role="admin")
    server = tabular.servers[default]

    @api.route("/classify", methods=["GET", "POST"])
    @user
    def classify():
        return model_classify(default, None, talk=True)

    @api.route("/predict", methods=["POST"])
    @user
    def predict_batch():
        return model_predict(default, None, talk=True)

    # /models/<name>/...: a registered model by name; otherwise a version of the default model.
    @api.route("/models/<name>/classify", methods=["GET", "POST"])
    @user
    def classify_model(name: str):
        if name in tabular.servers:
            return model_classify(name, None)
        return model_classify(default, name, talk=True)

    @api.route("/models/<name>/predict", methods=["POST"])
    @user
    def predict_model(name: str):
        if name in tabular.servers:
            return model_predict(name, None)
        return model_predict(default, name, talk=True)

    @api.route("/models/<name>/versions/<version>/classify", methods=["GET", "POST"])
    @user
    def classify_pinned(name: str, version: str):
        return model_classify(_registered(name), version)

    @api.route("/models/<name>/versions/<version>/predict", methods=["POST"])
    @user
    def predict_pinned(name: str, version: str):
        return model_predict(_registered(name), version)

    @api.route("/models/<name>/feedback", methods=["POST"])
    @user
    def feedback(name: str):
        # The refused body is still read (not parsed): answering before it is read resets the
        # connection under a client still sending it, 1 request in 10 in a test.
        tabular.refuse_labels_over_budget(_registered(name), before_refusing=lambda: body_within_limit(request))
        _, body = parse_body(request._get_current_object(), allow_form=False)
        if body is None:
            raise InputError('send a JSON body: {"feedback": [{"id": "<prediction id>", "label": "<class>"}]}',
                             code="missing_body")
        return json_response(tabular.feedback(_registered(name), body))

    def _registered(name: str) -> str:
        if name not in tabular.servers:
            raise InputError(f"unknown model {name!r}; registered: {', '.join(sorted(tabular.servers)) or 'none'}",
                             "model", status=404, code="unknown_model")
        return name

    def model_classify(name: str, version: str | None, talk: bool = False) -> Response:
        req = request._get_current_object()
        form, body = parse_body(req, allow_form=True)
        document, headers = tabular.classify(name, version, req, form, body)
        if talk:
            document[TALK_CLASS_FIELD] = document["class"]
        response = json_response(document)
        response.headers.update(headers)
        return response

    def model_predict(name: str, version: str | None, talk: bool = False) -> Response:
        req = request._get_current_object()
        extra = [name for name in req.args if name != "key"]
        if extra:
            raise InputError(f"unknown query parameter '{extra[0]}'", extra[0])
        _, body = parse_body(req, allow_form=False)
        document = tabular.predict(name, version, body)
        if talk:
            for prediction in document["predictions"]:
                if "class" in prediction:
                    prediction[TALK_CLASS_FIELD] = prediction["class"]
        return json_response(document)

    @api.route("/models", methods=["GET"])
    @user
    def models():
        return json_response({"default": default, "models": tabular.describe()})

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
        try:
            request_reload(server.registry)  # the other workers follow
        except RegistryNotWritable as exc:
            raise InputError(f"this worker reloaded, the others were not told: {exc}", status=503,
                             code="registry_not_writable") from None
        return json_response(deployment_document())

    @api.route("/admin/deployment", methods=["GET"])
    @admin
    def get_deployment():
        return json_response(deployment_document())

    @api.route("/admin/deployment", methods=["PUT"])
    @admin
    def put_deployment():
        _, body = parse_body(request._get_current_object(), allow_form=False)
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
        except RegistryNotWritable as exc:
            raise InputError(str(exc), status=503, code="registry_not_writable") from None
        except ModelwatchError as exc:
            raise InputError(str(exc), status=409, code="deployment_rejected") from None
        return json_response(deployment_document())

    return api
