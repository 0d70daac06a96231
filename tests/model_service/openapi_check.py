"""Check real responses against the service's OpenAPI document."""

from __future__ import annotations

import re
from functools import lru_cache

import yaml
from jsonschema import Draft202012Validator

from modelwatch.model_service.app import OPENAPI_FILE


@lru_cache(maxsize=1)
def spec() -> dict:
    return yaml.safe_load(OPENAPI_FILE.read_text())


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _follow(ref: str) -> dict:
    node = spec()
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def path_template(path: str) -> str:
    for template in spec()["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"{path} is not documented in the OpenAPI document")


def check_response(method: str, path: str, response) -> None:
    """Fail unless the documented operation lists this status and the body fits its schema."""
    template = path_template(path.split("?")[0])
    operation = spec()["paths"][template].get(method.lower())
    assert operation is not None, f"{method} {template} is not documented"
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {template} does not document status {status}"
    documented = _follow(operation["responses"][status]["$ref"]) if "$ref" in operation["responses"][status] else operation["responses"][status]
    content = documented.get("content", {})
    mimetype = response.mimetype
    assert mimetype in content, f"{method} {template} {status}: {mimetype} is not documented"
    if mimetype == "application/json":
        responses_pointer = ["paths", template, method.lower(), "responses", status]
        if "$ref" in operation["responses"][status]:
            responses_pointer = operation["responses"][status]["$ref"][2:].split("/")
            responses_pointer = [p.replace("~1", "/") for p in responses_pointer]
        root = dict(spec())
        root["$ref"] = _pointer(*responses_pointer, "content", mimetype, "schema")
        Draft202012Validator(root).validate(response.get_json())
