"""A model version's input schema (``schema.json``): its task, its features in
the order the model takes them, and for each what the API accepts — the kind
(numeric or categorical), a unit, an allowed range, the known categories, and
whether a value may be missing. The API validates against it, the OpenAPI
document shows it, and the drift series are laid out by it.

Registration infers it from the reference data and the artifact; a YAML file
can override any feature's entries::

    features:
      age: {unit: years, minimum: 0, maximum: 130}
      island: {kind: categorical, allow_missing: true}

An unknown feature or setting in that file is an error, not ignored.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from typing import Any

import jsonschema

from modelwatch.core.errors import ModelwatchError

SCHEMA_FILE = "schema.json"
TASKS = ("classification", "regression")
KINDS = ("numeric", "categorical")
# A feature name is a JSON field and a metric label value: any printable text up to 64 characters.
FEATURE_NAME = r"^[^\x00-\x1f\x7f]{1,64}$"

_OVERRIDE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "features": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "kind": {"enum": list(KINDS)},
                    "unit": {"type": "string", "maxLength": 32},
                    "description": {"type": "string", "maxLength": 200},
                    "minimum": {"type": "number"},
                    "maximum": {"type": "number"},
                    "categories": {"type": "array", "items": {"type": ["string", "number", "boolean"]}, "minItems": 1},
                    "allow_missing": {"type": "boolean"},
                },
            },
        },
    },
}


class SchemaError(ModelwatchError):
    """A schema or an override that cannot be used; the message names the feature."""


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # numeric | categorical
    unit: str = ""
    description: str = ""
    minimum: float | None = None  # allowed range (inclusive); None: any finite number
    maximum: float | None = None
    categories: tuple[str, ...] = ()  # the categories known from the reference (others are counted as unseen)
    allow_missing: bool = False

    def problems(self) -> list[str]:
        found = []
        if self.kind not in KINDS:
            found.append(f"feature {self.name}: kind must be numeric or categorical, not {self.kind!r}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            found.append(f"feature {self.name}: minimum {self.minimum:g} is above maximum {self.maximum:g}")
        for bound in (self.minimum, self.maximum):
            if bound is not None and not math.isfinite(bound):
                found.append(f"feature {self.name}: the allowed range must be finite")
        if self.kind == "categorical" and (self.minimum is not None or self.maximum is not None):
            found.append(f"feature {self.name}: a categorical feature has no range")
        return found


@dataclass(frozen=True)
class ModelSchema:
    task: str
    features: tuple[Feature, ...]
    target: str | None = None
    classes: tuple[str, ...] = ()  # a classifier's classes, in the model's order

    @cached_property  # asked for every request's every field: computed once
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @cached_property
    def feature_name_set(self) -> frozenset[str]:
        return frozenset(self.feature_names)

    def feature(self, name: str) -> Feature:
        for candidate in self.features:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def problems(self) -> list[str]:
        found = []
        if self.task not in TASKS:
            found.append(f"task must be classification or regression, not {self.task!r}")
        if not self.features:
            found.append("a model needs at least one feature")
        names = self.feature_names
        if len(set(names)) != len(names):
            found.append("feature names repeat")
        found += [f"feature name {n!r} is not usable (printable, 64 characters at most)"
                  for n in names if not re.match(FEATURE_NAME, n)]
        for feature in self.features:
            found += feature.problems()
        if self.task == "classification" and len(self.classes) < 2:
            found.append("a classifier needs at least two classes")
        if self.task == "regression" and self.classes:
            found.append("a regressor has no classes")
        return found

    def to_dict(self) -> dict:
        features = [{**{k: v for k, v in asdict(f).items() if v not in (None, "", ())},
                     "allow_missing": f.allow_missing} for f in self.features]
        for feature in features:
            if "categories" in feature:
                feature["categories"] = list(feature["categories"])
        return {"task": self.task, "target": self.target, "classes": list(self.classes), "features": features}

    @classmethod
    def from_dict(cls, document: dict) -> "ModelSchema":
        try:
            features = tuple(
                Feature(**{**f, "categories": tuple(str(c) for c in f.get("categories", ()))})
                for f in document["features"]
            )
            schema = cls(document["task"], features, document.get("target"),
                         tuple(str(c) for c in document.get("classes", ())))
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"not a model schema: {exc}") from None
        problems = schema.problems()
        if problems:
            raise SchemaError("invalid model schema: " + "; ".join(problems))
        return schema


def apply_overrides(schema: ModelSchema, overrides: Any, source: str = "the schema file") -> ModelSchema:
    """``schema`` with the entries of an override document (see the module docstring) applied."""
    try:
        jsonschema.validate(overrides or {}, _OVERRIDE_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "document"
        raise SchemaError(f"{source}: {where}: {exc.message}") from None
    given = (overrides or {}).get("features", {})
    unknown = sorted(set(given) - set(schema.feature_names))
    if unknown:
        raise SchemaError(f"{source}: no feature named {unknown[0]!r} (the model takes {', '.join(schema.feature_names)})")
    features = []
    for feature in schema.features:
        changes = dict(given.get(feature.name, {}))
        if "categories" in changes:
            changes["categories"] = tuple(str(c) for c in changes["categories"])
        if changes.get("kind") == "numeric":
            changes.setdefault("categories", ())
        if changes.get("kind") == "categorical":
            changes.setdefault("minimum", None)
            changes.setdefault("maximum", None)
        features.append(replace(feature, **changes))
    updated = replace(schema, features=tuple(features))
    problems = updated.problems()
    if problems:
        raise SchemaError(f"{source}: " + "; ".join(problems))
    return updated
