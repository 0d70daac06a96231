"""The YAML modelwatch writes for other programs (rule files, Prometheus,
Alertmanager and Grafana provisioning, compose and Kubernetes files): text that
every reader — PyYAML, Prometheus, kustomize, the Kubernetes API — reads back
as written, and multi-line strings (PromQL) as block scalars."""

from __future__ import annotations

import re

import yaml


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, text: str):
    # Quote number-like strings ("08"): YAML 1.2 readers (Prometheus, kustomize) take them for numbers.
    style = "|" if "\n" in text else "'" if re.fullmatch(r"[-+0-9.eE]+", text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def to_yaml(document: dict) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=10_000)
