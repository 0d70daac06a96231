"""Validating custom resources against their projects' published CRDs
(k8s/schemas/*.yaml, vendored with their provenance), as an API server with
strict field validation would: the version's ``openAPIV3Schema`` as a JSON
Schema, unknown fields rejected (unless ``x-kubernetes-preserve-unknown-fields``),
``nullable`` and ``x-kubernetes-int-or-string`` honoured, list semantics applied
(``x-kubernetes-list-type: set`` entries unique, ``map`` entries unique by their
``x-kubernetes-list-map-keys``), and the object's name checked as ObjectMeta's
is. CEL rules (``x-kubernetes-validations``) need an API server: not checked."""

from __future__ import annotations

import functools
from pathlib import Path

import jsonschema
import yaml
from jsonschema import ValidationError

from tests.conftest import ROOT

SCHEMAS = ROOT / "k8s" / "schemas"
OFFICIAL = {
    "ServiceMonitor": "monitoring.coreos.com_servicemonitors.yaml",
    "PrometheusRule": "monitoring.coreos.com_prometheusrules.yaml",
    "ScaledObject": "keda.sh_scaledobjects.yaml",
}
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
OBJECT_META = {  # the part of ObjectMeta a manifest sets
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {"name": {"type": "string", "maxLength": 253, "pattern": DNS_SUBDOMAIN},
                   "namespace": {"type": "string", "maxLength": 63, "pattern": DNS_LABEL},
                   "labels": STRINGS, "annotations": STRINGS},
}


def structural(schema: dict) -> dict:
    """An ``openAPIV3Schema`` node as the JSON Schema the API server effectively applies."""
    node = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    for key in ("properties", "patternProperties"):
        if key in node:
            node[key] = {name: structural(child) for name, child in node[key].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            node[key] = structural(node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            node[key] = [structural(child) for child in node[key]]
    if schema.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
        node.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if schema.get("nullable") and "type" in node:
        node["type"] = [node["type"], "null"]
    if "properties" in node and "additionalProperties" not in node and \
            not schema.get("x-kubernetes-preserve-unknown-fields"):
        node["additionalProperties"] = False  # strict field validation: an unknown field is an error
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        node["uniqueItems"] = True
    elif list_type == "map":
        node["listMapKeys"] = schema["x-kubernetes-list-map-keys"]
    return node


def _unique_by_keys(validator, keys, instance, schema):
    if not validator.is_type(instance, "array"):
        return
    seen = set()
    for entry in instance:
        if not isinstance(entry, dict):
            continue
        key = tuple(entry.get(k) for k in keys)
        if key in seen:
            yield ValidationError(f"duplicate entry for {dict(zip(keys, key))} (x-kubernetes-list-type: map)")
        seen.add(key)


Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"listMapKeys": _unique_by_keys})


@functools.cache
def official_validator(kind: str) -> jsonschema.protocols.Validator:
    crd = yaml.safe_load((SCHEMAS / OFFICIAL[kind]).read_text())
    [version] = [v for v in crd["spec"]["versions"] if v.get("storage")]
    schema = structural(version["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = OBJECT_META
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    schema["properties"]["apiVersion"] = {"const": f"{crd['spec']['group']}/{version['name']}"}
    return Validator(schema)


def official_errors(obj: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
            for e in official_validator(obj["kind"]).iter_errors(obj)]


def provenance() -> str:
    return (Path(SCHEMAS) / "README.md").read_text()
