"""Which part may import which: the ground floor (modelwatch.core) imports no
part, the model format (modelwatch.models) only the ground floor, the wire
protocol (modelwatch.protocol, generated from the Open Inference Protocol's
.proto) none, and the exporter and the load tests reach the service only over
HTTP or gRPC, through the model format and the protocol, never by importing it."""

from __future__ import annotations

import ast
import tomllib

import pytest

from tests.conftest import ROOT

PACKAGE_DIRS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
# package -> the modelwatch packages it may import (besides itself)
ALLOWED = {
    "modelwatch.core": set(),
    "modelwatch.models": {"modelwatch.core"},
    "modelwatch.protocol": set(),
    "modelwatch.rules": {"modelwatch.core", "modelwatch.models"},
    "modelwatch.dashboards": {"modelwatch.core", "modelwatch.models", "modelwatch.rules"},
    "modelwatch.exporter": {"modelwatch.core", "modelwatch.models", "modelwatch.protocol"},
    "modelwatch.loadtests": {"modelwatch.core", "modelwatch.models", "modelwatch.protocol"},
    "modelwatch.autoscaler": {"modelwatch.core", "modelwatch.models"},
}


def _modelwatch_imports(package: str) -> dict[str, set[str]]:
    """File -> the modelwatch modules it imports."""
    folder = ROOT / PACKAGE_DIRS.get(package, package.replace(".", "/"))
    found = {}
    for path in folder.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(ROOT))] = {n for n in names if n.startswith("modelwatch.")}
    return found


def _package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_part_imports_only_what_lies_below_it(package):
    allowed = ALLOWED[package] | {package}
    wrong = {
        path: sorted(m for m in modules if _package_of(m) not in allowed)
        for path, modules in _modelwatch_imports(package).items()
    }
    assert not {path: modules for path, modules in wrong.items() if modules}


def test_the_check_sees_a_forbidden_import():
    imports = _modelwatch_imports("modelwatch.exporter")
    assert any("modelwatch.models.registry" in modules for modules in imports.values())
    assert _package_of("modelwatch.model_service.keys") not in ALLOWED["modelwatch.loadtests"]
