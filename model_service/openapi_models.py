"""The OpenAPI document the service serves: the hand-written one (``openapi.yaml``:
the default model's routes and the generic registered-model routes) and, for
every loaded registered model, its own routes described from its stored schema.

Each model's document says exactly what the service validates
(``model_service.tabular``): every feature required unless the schema allows it
missing (then ``null``, or absent, is valid), numbers finite and within the
declared range, categories as text of at most ``MAX_CATEGORY_LENGTH``
characters (an unseen one is valid: it is counted, not refused), no unknown
field, batches of at most the configured size; and the answers by task: the
class among the model's classes with its probabilities, or a finite value.
"""

from __future__ import annotations

import copy
import sys
from typing import Any, Iterable

from modelwatch.model_service.tabular import MAX_CATEGORY_LENGTH, TabularModel
from modelwatch.models.schema import Feature

FINITE = {"type": "number", "minimum": -sys.float_info.max, "maximum": sys.float_info.max}
LABELLED = {"model": {"type": "string"}, "model_version": {"type": "string"}}
ERRORS = {"400": "BadRequest", "401": "Unauthorized", "413": "TooLarge", "415": "UnsupportedMediaType",
          "422": "NonFinite", "503": "NotReady"}


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _value_schema(feature: Feature) -> dict:
    if feature.kind == "categorical":
        schema: dict[str, Any] = {"type": "string", "maxLength": MAX_CATEGORY_LENGTH}
        if feature.categories:
            schema["examples"] = list(feature.categories[:5])
    else:
        schema = dict(FINITE)
        if feature.minimum is not None:
            schema["minimum"] = feature.minimum
        if feature.maximum is not None:
            schema["maximum"] = feature.maximum
    description = ", ".join(part for part in (feature.description, feature.unit and f"unit: {feature.unit}") if part)
    if description:
        schema["description"] = description
    return schema


def _nullable(schema: dict) -> dict:
    return {**schema, "type": [schema["type"], "null"]}


def row_schema(model: TabularModel) -> dict:
    """One row as a JSON object of feature values."""
    features = model.schema.features
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in features if not f.allow_missing],
        "properties": {f.name: _nullable(_value_schema(f)) if f.allow_missing else _value_schema(f)
                       for f in features},
    }


def _query_parameters(model: TabularModel) -> list[dict]:
    """The features as query parameters; an empty value is a missing one."""
    parameters = []
    for feature in model.schema.features:
        schema = _value_schema(feature)
        if feature.kind == "categorical" and not feature.allow_missing:
            schema["minLength"] = 1
        parameters.append({"name": feature.name, "in": "query", "required": not feature.allow_missing,
                           "schema": schema})
    return parameters


def answer_schema(model: TabularModel, labelled: bool = False) -> dict:
    """One row's answer: class, confidence and probabilities (when the model gives them), or value;
    ``labelled``: with the model and version that answered (a classify answer)."""
    properties: dict[str, Any] = {"prediction_id": {"type": "string", "description": "Send it with the label once known"}}
    if model.classes:
        share = {"type": "number", "minimum": 0, "maximum": 1}
        properties["class"] = {"enum": list(model.classes)}
        properties["confidence"] = share
        properties["probabilities"] = {"type": "object", "additionalProperties": False,
                                       "required": list(model.classes),
                                       "properties": {c: share for c in model.classes}}
        required = ["class", "prediction_id"]
    else:
        properties["value"] = dict(FINITE, description="The prediction")
        required = ["value", "prediction_id"]
    if labelled:
        properties.update(LABELLED)
        required += list(LABELLED)
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


def _responses(ok: dict, headers: bool = False) -> dict:
    answer: dict[str, Any] = {"description": "The model's answer", "content": {"application/json": {"schema": ok}}}
    if headers:
        answer["headers"] = {"X-Prediction-Id": {"description": "The prediction id, as in the body",
                                                 "schema": {"type": "string"}}}
    return {"200": answer, **{status: _ref("responses", name) for status, name in ERRORS.items()}}


def _component(model: TabularModel, version: str | None) -> str:
    """A component name (OpenAPI allows letters, digits, '.', '-' and '_')."""
    return f"{model.name}.{version}" if version else model.name


def _operations(model: TabularModel, version: str | None, max_batch: int, components: dict) -> dict[str, dict]:
    """The paths of one model (``version`` None: the routes that follow its deployment)."""
    name = _component(model, version)
    schemas = components["schemas"]
    schemas[f"{name}.Row"] = row_schema(model)
    schemas[f"{name}.Answer"] = answer_schema(model)
    schemas[f"{name}.Predictions"] = {
        "type": "object", "additionalProperties": False, "required": ["model", "model_version", "predictions"],
        "properties": {**LABELLED, "predictions": {"type": "array", "items": _ref("schemas", f"{name}.Answer")}},
    }
    base = f"/api/v1/models/{model.name}" + (f"/versions/{version}" if version else "")
    which = f"version {version} of {model.name}" if version else f"{model.name} (the version its deployment picks)"
    batch = {"type": "object", "additionalProperties": False, "required": ["instances"], "properties": {
        "instances": {"type": "array", "minItems": 1, "maxItems": max_batch, "items": _ref("schemas", f"{name}.Row")}}}
    paths = {f"{base}/predict": {"post": {
        "tags": ["predictions"], "summary": f"Predict a batch with {which}",
        "operationId": f"predict.{name}",
        "requestBody": {"required": True, "content": {"application/json": {"schema": batch}}},
        "responses": _responses(_ref("schemas", f"{name}.Predictions")),
    }}}
    if model.classes:
        schemas[f"{name}.Classification"] = answer_schema(model, labelled=True)
        answer = _responses(_ref("schemas", f"{name}.Classification"), headers=True)
        paths[f"{base}/classify"] = {
            "get": {"tags": ["predictions"], "summary": f"Classify one row, from the query string, with {which}",
                    "operationId": f"classifyGet.{name}", "parameters": _query_parameters(model),
                    "responses": answer},
            "post": {"tags": ["predictions"], "summary": f"Classify one row, a JSON object, with {which}",
                     "operationId": f"classifyPost.{name}",
                     "requestBody": {"required": True, "content": {
                         "application/json": {"schema": _ref("schemas", f"{name}.Row")}}},
                     "responses": answer},
        }
    if version is None:  # labels join the prediction they name, whichever version made it
        paths[f"{base}/feedback"] = {"post": _feedback_operation(model, name, max_batch, schemas)}
    return paths


def _feedback_operation(model: TabularModel, name: str, max_batch: int, schemas: dict) -> dict:
    """Labels for this model's predictions: a class it knows, or a finite value."""
    truth = ({"label": {"enum": list(model.classes), "description": "The actual class"}} if model.classes
             else {"value": dict(FINITE, description="The actual value")})
    schemas[f"{name}.FeedbackItem"] = {
        "type": "object", "additionalProperties": False, "required": ["id", *truth],
        "properties": {"id": {"type": "string", "description": "The prediction_id of the answer being labelled"},
                       **truth}}
    item = _ref("schemas", f"{name}.FeedbackItem")
    body = {"type": "object", "additionalProperties": False, "required": ["feedback"], "properties": {
        "feedback": {"type": "array", "minItems": 1, "maxItems": max_batch, "items": item}}}
    errors = {**ERRORS, "422": "InvalidFeedback", "429": "FeedbackThrottled", "503": "FeedbackUnavailable"}
    return {
        "tags": ["predictions"], "summary": f"Send the true {'class' if model.classes else 'value'} of {model.name}'s "
                                         "predictions, once known",
        "operationId": f"sendFeedback.{name}",
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {"200": {"description": "Each item's outcome, in order", "content": {
            "application/json": {"schema": _ref("schemas", "FeedbackAnswer")}}},
            **{status: _ref("responses", response) for status, response in errors.items()}},
    }


def document(base: dict, models: Iterable[tuple[TabularModel, bool]], max_batch: int) -> dict:
    """``base`` with each registered model's own routes; ``models`` yields (model, follows_deployment):
    every loaded version for its pinned routes, and the one that answers the unpinned routes."""
    out = copy.deepcopy(base)
    components = out.setdefault("components", {})
    for batch in ("Batch", "RegisteredBatch"):  # the configured limit (a larger batch is a 413)
        if batch in components.get("schemas", {}):
            components["schemas"][batch]["properties"]["instances"]["maxItems"] = max_batch
    for model, unpinned in models:
        out["paths"].update(_operations(model, None if unpinned else model.version, max_batch, components))
    return out
