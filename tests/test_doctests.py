"""The examples in the modules' docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.conftest import ROOT
from tests.test_layers import PACKAGE_DIRS


def _modules_with_examples() -> list[str]:
    found = []
    for package, folder in {**PACKAGE_DIRS, "modelwatch.core": "modelwatch/core"}.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            if ">>> " in path.read_text():
                found.append(package if path.name == "__init__.py" else f"{package}.{path.stem}")
    return sorted(set(found))


@pytest.mark.parametrize("module", _modules_with_examples())
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
