"""The fault-injection suite: each test injects one fault for real and reports its figure.

Figures are printed after the run (``fault figures``) and written as JSON to
``$MODELWATCH_FAULT_FIGURES`` (default: fault-figures.json in pytest's temporary base folder),
so a closing note or operations.md can quote them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_figures: dict[str, dict] = {}


@pytest.fixture
def report():
    """report("F7", keys_lost=0, ...): this test's figures for the fault it injects."""

    def record(fault: str, **figures):
        _figures.setdefault(fault, {}).update(figures)

    return record


def pytest_terminal_summary(terminalreporter, config):
    if not _figures:
        return
    terminalreporter.section("fault figures")
    for fault in sorted(_figures, key=lambda f: int(f[1:]) if f[1:].isdigit() else 999):
        shown = ", ".join(f"{name}={value}" for name, value in _figures[fault].items())
        terminalreporter.write_line(f"{fault}: {shown}")
    path = Path(os.environ.get("MODELWATCH_FAULT_FIGURES") or config._tmp_path_factory.getbasetemp() / "fault-figures.json")
    path.write_text(json.dumps(_figures, indent=2, sort_keys=True))
    terminalreporter.write_line(f"written {path}")
