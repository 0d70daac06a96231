"""Turn request inputs into feature rows, or a clear 4xx naming the field.

Independent of Flask: callers pass the query arguments, the form and the parsed
JSON body. Every rule here has a test in tests/model_service/test_inputs.py.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

RESERVED_QUERY = frozenset(("key",))  # the API key may travel in the query string
NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


class InputError(Exception):
    """A request the client must fix: becomes a JSON error with this status."""

    def __init__(self, message: str, field: str | None = None, status: int = 400, code: str = "invalid_input"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
        self.code = code

    def body(self) -> dict[str, Any]:
        error = {"status": self.status, "code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


def _number(value: Any, field: str, text_allowed: bool = False) -> float:
    """A finite float; strings only where the transport is text (query, form)."""
    if isinstance(value, str) and text_allowed:
        if not NUMBER.match(value):
            raise InputError(f"field '{field}' must be a number, got {value[:40]!r}", field)
        number = float(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # a JSON integer of hundreds of digits
            raise InputError(f"field '{field}' is out of range", field) from None
    else:
        raise InputError(f"field '{field}' must be a number, got {type(value).__name__}", field)
    if not math.isfinite(number):
        raise InputError(f"field '{field}' must be a finite number, got {value!r}", field)
    return number


def _named_row(
    values: Mapping[str, Any], features: Sequence[str], where: str = "", text: frozenset[str] = frozenset()
) -> list[float]:
    unknown = [name for name in values if name not in features]
    if unknown:
        raise InputError(
            f"unknown field '{where}{unknown[0]}'; expected {', '.join(features)}", f"{where}{unknown[0]}"
        )
    row = []
    for name in features:
        if name not in values:
            raise InputError(f"missing field '{where}{name}'", f"{where}{name}")
        row.append(_number(values[name], f"{where}{name}", name in text))
    return row


def _collect_single(sources: Iterable[tuple[Iterable[tuple[str, Any]], str]]) -> tuple[dict[str, Any], frozenset[str]]:
    """Merge (pairs, kind) sources; a field given twice is an error. Returns the
    values and the names that came as text (query or form)."""
    merged: dict[str, Any] = {}
    text = set()
    for pairs, kind in sources:
        for name, value in pairs:
            if kind == "query" and name in RESERVED_QUERY:
                continue
            if name in merged:
                raise InputError(f"field '{name}' is given more than once", name)
            merged[name] = value
            if kind != "json":
                text.add(name)
    return merged, frozenset(text)


def classify_row(
    query: Iterable[tuple[str, Any]],
    form: Iterable[tuple[str, Any]] | None,
    json_body: Any,
    features: Sequence[str],
) -> list[float]:
    """One row from the query string plus a form or JSON object body."""
    sources: list[tuple[Iterable[tuple[str, Any]], str]] = [(query, "query")]
    if form is not None:
        sources.append((form, "form"))
    if json_body is not None:
        if not isinstance(json_body, dict):
            raise InputError("JSON body must be an object of features, e.g. {\"sl\": 5.1, ...}")
        sources.append((json_body.items(), "json"))
    values, text = _collect_single(sources)
    return _named_row(values, features, text=text)


def batch_rows(json_body: Any, features: Sequence[str], max_batch: int) -> np.ndarray:
    """Rows from {"instances": [[...], ...]} or {"instances": [{"sl": ...}, ...]}."""
    if not isinstance(json_body, dict):
        raise InputError('JSON body must be an object: {"instances": [...]}')
    extra = [name for name in json_body if name != "instances"]
    if extra:
        raise InputError(f"unknown field '{extra[0]}'; expected instances", extra[0])
    if "instances" not in json_body:
        raise InputError("missing field 'instances'", "instances")
    instances = json_body["instances"]
    if not isinstance(instances, list):
        raise InputError("field 'instances' must be a list of rows", "instances")
    if not instances:
        raise InputError("field 'instances' is empty: send at least one row", "instances")
    if len(instances) > max_batch:
        raise InputError(
            f"field 'instances' holds {len(instances)} rows; the maximum is {max_batch}",
            "instances",
            status=413,
            code="batch_too_large",
        )
    rows = []
    for i, instance in enumerate(instances):
        where = f"instances[{i}]"
        if isinstance(instance, dict):
            rows.append(_named_row(instance, features, where + "."))
        elif isinstance(instance, list):
            if len(instance) != len(features):
                raise InputError(
                    f"{where} has {len(instance)} values; expected {len(features)} ({', '.join(features)})", where
                )
            rows.append([_number(v, f"{where}[{j}]") for j, v in enumerate(instance)])
        else:
            raise InputError(f"{where} must be a list of numbers or an object of features", where)
    return np.array(rows, dtype=np.float64)
