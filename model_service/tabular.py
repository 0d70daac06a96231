"""Serving a registered model (``modelwatch models add``): loading a version
as its schema and artifact say, turning request values into the model's input
frame under the schema's rules, and its answers into the API's.

Validation, per feature of the schema:
- missing (absent, null, or an empty query value): accepted where the schema
  allows it, else a 400 naming the field;
- numeric: a finite number (text only where the transport is text: query,
  form) inside the declared range;
- categorical: text (or an integer or boolean, taken as text) of at most 200
  characters; a category the reference never had is served and counted as
  unseen, not refused.
Unknown fields are refused. Answers that are not finite are refused with a 422.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from modelwatch.model_service import libraries, predictors
from modelwatch.model_service.artifacts import Answers, load_artifact
from modelwatch.model_service.libraries import Mismatch
from modelwatch.model_service.inputs import NUMBER, InputError
from modelwatch.models.baselines import MISSING, OTHER, UNSEEN, bucket_of, padded_edges
from modelwatch.models.registry import DATA_BASELINE_FILE, VERSION_PATTERN, ModelLoadError, Registry
from modelwatch.models.schema import SCHEMA_FILE, Feature, ModelSchema

log = logging.getLogger(__name__)

MAX_CATEGORY_LENGTH = 200
RESERVED_QUERY = frozenset(("key",))


@dataclass(frozen=True)
class FeatureBuckets:
    """How a feature's values map to its baseline buckets (the metric's bucket label)."""

    labels: tuple[str, ...]
    edges: tuple[float, ...] = ()  # numeric
    index_of: dict[str, int] = field(default_factory=dict)  # categorical: category -> bucket
    known: frozenset[str] = frozenset()  # categorical: every category of the reference
    categorical: bool = False

    @cached_property
    def _special(self) -> tuple[int, int, int]:
        return tuple(self.labels.index(x) for x in (OTHER, UNSEEN, MISSING)) if self.categorical else (-1, -1, -1)

    def _category(self, value: Any) -> int:
        """A category's bucket: its own, OTHER or UNSEEN; -(b + 2) when missing (b: the MISSING bucket)."""
        other, unseen, missing = self._special
        if value is None:
            return -(missing + 2)
        return self.index_of.get(value, other if value in self.known else unseen)

    def categorical_events(self, values: list) -> np.ndarray:
        """``event`` for every value of a categorical feature at once."""
        return np.fromiter(map(self._category, values), dtype=np.float64, count=len(values))

    def event(self, value: Any) -> float:
        """One value as the metrics record it: its bucket; -1 for a missing number; -(b + 2) for a
        missing category, which is counted in its own bucket b as well as missing."""
        if self.categorical:
            return float(self._category(value))
        return -1.0 if value is None else float(bucket_of(self.edges, value))


@dataclass(frozen=True)
class TabularModel:
    name: str
    version: str
    metadata: dict[str, Any]
    schema: ModelSchema
    artifact: Any
    buckets: dict[str, FeatureBuckets]
    output_edges: tuple[float, ...]  # a regressor's prediction buckets
    load_seconds: float
    library_mismatches: tuple[Mismatch, ...] = ()  # saved with other library versions than these
    slot_offset: int | None = None  # the data baseline's feature_slot_offset (series.feature_slots)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.schema.classes

    @property
    def sha256(self) -> str:
        return self.metadata["sha256"][self.metadata["artifact"]]

    @cached_property
    def numeric_features(self) -> tuple[tuple[str, ...], np.ndarray]:
        """The numeric features' names and their bucket edges as one array (``bucket_matrix``)."""
        names = tuple(f.name for f in self.schema.features if f.kind == "numeric")
        return names, padded_edges([self.buckets[name].edges for name in names])

    @cached_property
    def numeric_columns(self) -> slice | np.ndarray:
        """Where the numeric features' buckets go in a prediction's metric events (after the output and the
        confidence): a slice when they sit side by side, as in an all-numeric model."""
        columns = [2 + i for i, f in enumerate(self.schema.features) if f.kind == "numeric"]
        if not columns:
            return slice(2, 2)
        if columns[-1] - columns[0] == len(columns) - 1:
            return slice(columns[0], columns[-1] + 1)
        return np.array(columns, dtype=np.int64)


def _buckets(spec: dict) -> FeatureBuckets:
    labels = tuple(spec["buckets"])
    if spec.get("kind") == "categorical":
        return FeatureBuckets(labels, index_of={c: i for i, c in enumerate(labels[:-3])},
                              known=frozenset(spec["categories"]), categorical=True)
    return FeatureBuckets(labels, edges=tuple(spec["edges"]))


def load_version(registry: Registry, version: str, predictor_kind: str = "native") -> TabularModel:
    """Load and verify a registered version: its signature and checksums first (before any file is parsed), then the
    artifact as it was trusted at registration, evaluated as ``predictor_kind`` says
    (model_service.predictors), then the probe rows' recorded answers."""
    started = time.perf_counter()
    if not VERSION_PATTERN.match(version) or not registry.version_dir(version).is_dir():
        raise ModelLoadError(version, "missing", f"no such version in {registry.model_dir}")
    metadata = registry.verified_metadata(version)
    if "format" not in metadata:
        raise ModelLoadError(version, "unreadable", "written by a modelwatch from before `modelwatch models add`; "
                             "register the model again (modelwatch train, for the Iris example)")
    folder = registry.version_dir(version)
    try:
        schema = ModelSchema.from_dict(json.loads((folder / SCHEMA_FILE).read_text()))
        baseline = json.loads((folder / DATA_BASELINE_FILE).read_text())
        trusted = metadata.get("trusted", {})
        artifact = load_artifact(folder / metadata["artifact"], tuple(trusted.get("types", ())),
                                 bool(trusted.get("pickle")))
        if schema.classes and hasattr(artifact, "with_classes"):
            artifact.with_classes(schema.classes)
        probe = metadata["probe"]
        probe_frame = frame_of(probe["rows"], schema)
        artifact = predictors.choose(predictor_kind, artifact, folder, metadata, schema, probe["rows"], probe_frame)
        answers, _ = evaluate(artifact, probe["rows"], schema)
    except Exception as exc:  # an unreadable file, a bad schema, or the artifact failing on its own probe rows
        raise ModelLoadError(version, "unreadable", f"{type(exc).__name__}: {exc}") from None
    if schema.task == "classification":
        matches = answers.labels == probe["classes"]
    else:
        matches = np.allclose(answers.values, probe["values"], rtol=1e-6, atol=1e-6)
    if not matches:
        raise ModelLoadError(version, "mismatch", "answers differ from those recorded at registration")
    buckets = {name: _buckets(spec) for name, spec in baseline["features"].items()}
    edges = tuple(baseline["prediction"]["edges"]) if "prediction" in baseline else ()
    differ = tuple(libraries.mismatches(metadata.get("libraries", {})))
    for found in differ:
        log.warning("%s %s was registered with %s %s and is served with %s", registry.model_name, version,
                    found.library, found.registered, found.running or "none installed")
    return TabularModel(registry.model_name, version, metadata, schema, artifact, buckets, edges,
                        time.perf_counter() - started, differ, baseline.get("feature_slot_offset"))


def evaluate(artifact, rows: list[dict], schema: ModelSchema) -> tuple[Answers, pd.DataFrame | None]:
    """The answers for validated rows: straight from the rows where the evaluator can, else from their
    frame; and the frame (None when none was built), which the metrics read the numbers from."""
    from_rows = getattr(artifact, "predict_rows", None)
    if from_rows is not None:
        return from_rows(rows), None
    frame = frame_of(rows, schema)
    return artifact.predict(frame), frame


def frame_of(rows: list[dict], schema: ModelSchema) -> pd.DataFrame:
    """The model's input frame from validated rows (numbers as floats, categories as str or None)."""
    columns = {}
    for feature in schema.features:
        values = [row.get(feature.name) for row in rows]
        if feature.kind == "numeric":
            columns[feature.name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        else:
            columns[feature.name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)


# -- request values -> rows ---------------------------------------------------------------------


def _value(feature: Feature, value: Any, text: bool) -> Any:
    """One validated value (None for missing), or InputError naming the feature."""
    if type(value) is float and feature.kind == "numeric" and feature.minimum is None and feature.maximum is None \
            and math.isfinite(value):
        return value  # the common case of a large batch, checked first
    name = feature.name
    if value is None or (text and value == ""):
        if not feature.allow_missing:
            raise InputError(f"field '{name}' is required", name)
        return None
    if feature.kind == "categorical":
        if isinstance(value, bool) or isinstance(value, int):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if not isinstance(value, str):
            raise InputError(f"field '{name}' must be text (a category)", name)
        if len(value) > MAX_CATEGORY_LENGTH:
            raise InputError(f"field '{name}' is longer than {MAX_CATEGORY_LENGTH} characters", name)
        return value
    if isinstance(value, str) and text:
        if not NUMBER.match(value):
            raise InputError(f"field '{name}' must be a number, got {value[:40]!r}", name)
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"field '{name}' must be a number", name)
    try:
        number = float(value)
    except OverflowError:  # a JSON integer of hundreds of digits
        raise InputError(f"field '{name}' is out of range", name) from None
    if not math.isfinite(number):
        raise InputError(f"field '{name}' must be a finite number", name)
    if (feature.minimum is not None and number < feature.minimum) or (
            feature.maximum is not None and number > feature.maximum):
        raise InputError(f"field '{name}' must be between {feature.minimum:g} and {feature.maximum:g}"
                         if feature.minimum is not None and feature.maximum is not None else
                         f"field '{name}' is outside its allowed range", name)
    return number


def passes_unchanged(feature: Feature, values: list) -> bool:
    """Whether ``_value`` would pass every one of a column's values as it is (its fast path, for a
    whole column at once): finite floats for a feature without bounds, short strings for a category."""
    if feature.kind == "categorical":
        return all(type(v) is str for v in values) and max(map(len, values), default=0) <= MAX_CATEGORY_LENGTH
    if feature.minimum is not None or feature.maximum is not None or not all(type(v) is float for v in values):
        return False
    return math.isfinite(sum(values))  # an infinity or NaN anywhere makes the sum one (an overflow: the slow way)


def row_of(values: Mapping[str, Any] | list, schema: ModelSchema, text: bool = False, where: str = "") -> dict:
    """A validated row from an object (by name) or a list (in the schema's order)."""
    features = schema.features
    if isinstance(values, list):
        if len(values) != len(features):
            raise InputError(f"{where}expected {len(features)} values in the order "
                             f"{', '.join(schema.feature_names)}, got {len(values)}")
        values = dict(zip(schema.feature_names, values))
    elif type(values) is not dict and not isinstance(values, Mapping):  # a dict first: the ABC check costs more
        raise InputError(f"{where}a row is an object of feature values or a list in the schema's order")
    known = schema.feature_name_set
    if not known.issuperset(values):
        unknown = next(k for k in values if k not in known)
        raise InputError(f"{where}unknown field '{str(unknown)[:64]}'", str(unknown)[:64])
    try:
        return {f.name: _value(f, values.get(f.name), text) for f in features}
    except InputError as exc:
        if where:
            exc.message = f"{where}{exc.message}"
        raise


def classify_values(query: Iterable[tuple[str, str]], form: list | None, body: Any, schema: ModelSchema) -> dict:
    """One row from the query string, a form body or a JSON object (not more than one of them)."""
    query_values, form_values = _single(query, RESERVED_QUERY), _single(form or [], frozenset())
    sources = [s for s in (query_values, form_values) if s]
    if body is not None:
        if sources:
            raise InputError("send the features in the query string or in the body, not both")
        if not isinstance(body, dict):
            raise InputError("send one row as a JSON object of feature values")
        return row_of(body, schema)
    if len(sources) > 1:
        raise InputError("send the features in the query string or in the body, not both")
    return row_of(sources[0] if sources else {}, schema, text=True)


def _single(pairs: Iterable[tuple[str, str]], reserved: frozenset[str]) -> dict[str, str]:
    """Text fields by name; one given twice is refused rather than one of them silently kept."""
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in reserved:
            continue
        if name in values:
            raise InputError(f"field '{name[:64]}' is given more than once", name[:64])
        values[name] = value
    return values


def batch_values(body: Any, schema: ModelSchema, max_batch: int) -> list[dict]:
    if isinstance(body, dict) and "instances" in body and len(body) > 1:
        extra = next(k for k in body if k != "instances")
        raise InputError(f"unknown field '{extra[:64]}' beside 'instances'", extra[:64])
    if not isinstance(body, dict) or set(body) != {"instances"}:
        raise InputError('send {"instances": [row, ...]}: each row an object of feature values or a list in the '
                         "schema's order", "instances")
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise InputError("'instances' must be a non-empty list", "instances")
    if len(instances) > max_batch:
        raise InputError(f"at most {max_batch} instances per request, got {len(instances)}", "instances", status=413,
                         code="batch_too_large")
    rows = []
    for i, row in enumerate(instances):
        try:
            rows.append(row_of(row, schema, where=f"instance {i}: "))
        except InputError as exc:  # the field's path in the body: instances[3] or instances[3].age
            exc.field = f"instances[{i}]" + (f".{exc.field}" if exc.field else "")
            raise
    return rows


# -- answers -> documents -----------------------------------------------------------------------


def answers_of(model: TabularModel, rows: list[dict]) -> tuple[Answers, pd.DataFrame | None]:
    """The model's answers (and the frame they came from, see ``evaluate``), or a 422 when any is not
    a finite number or the model refuses the inputs."""
    with np.errstate(all="ignore"):  # overflow on extreme inputs: judged on the result below
        try:
            answers, frame = evaluate(model.artifact, rows, model.schema)
        except (ValueError, ArithmeticError) as exc:
            # valid inputs the model cannot take (a scaler overflowing to infinity, say): refused, not a 500
            raise InputError(f"the model cannot answer for these inputs ({type(exc).__name__}: {str(exc)[:120]})",
                             status=422, code="non_finite_answer") from None
    numbers = answers.probabilities if answers.probabilities is not None else answers.values
    if numbers is not None and not np.all(np.isfinite(numbers)):
        raise InputError("the model gives no finite answer for these inputs", status=422, code="non_finite_answer")
    return answers, frame


def documents(model: TabularModel, answers: Answers, ids: list[str]) -> list[dict]:
    """One answer per row: class, confidence and probabilities, or value; with its prediction id."""
    if answers.labels is None:
        return [{"value": float(v), "prediction_id": i} for v, i in zip(answers.values, ids)]
    out = []
    for row, (label, prediction_id) in enumerate(zip(answers.labels, ids)):
        document = {"class": label, "prediction_id": prediction_id}
        if answers.probabilities is not None:
            probabilities = answers.probabilities[row]
            document["confidence"] = float(probabilities.max())
            document["probabilities"] = dict(zip(model.classes, (float(p) for p in probabilities)))
        out.append(document)
    return out
