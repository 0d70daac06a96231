"""A missing optional part (an extra not installed) is a one-line error naming
the extra to install, never a traceback: before a subprocess is started for
serve and load, and from any import a command makes."""

from __future__ import annotations

import sys

import pytest

from modelwatch.core import extras
from modelwatch.cli import main


def block(monkeypatch, *modules: str) -> None:
    """Make these modules uninstalled for the test: find_spec says None, import raises."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


def test_require_names_the_extra_and_what_is_missing(monkeypatch):
    extras.require("report")  # installed here
    block(monkeypatch, "matplotlib")
    with pytest.raises(extras.MissingExtra, match=r"'report' extra \(matplotlib not installed\): pip install 'modelwatch\[report\]'"):
        extras.require("report")


@pytest.mark.parametrize(("command", "blocked", "extra"), [
    (["load", "steady", "--duration", "1", "--key", "x"], "locust", "load"),
    (["serve"], "gunicorn", "serve"),
    (["report"], "matplotlib", "report"),
])
def test_a_command_without_its_extra_fails_in_one_line(command, blocked, extra, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(tmp_path))
    block(monkeypatch, blocked)
    monkeypatch.delitem(sys.modules, "modelwatch.reports.report", raising=False)  # imported afresh, so matplotlib is needed
    assert main(command) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"modelwatch {command[0]}: error: this needs the '{extra}' extra ({blocked} not installed): "
                   f"pip install 'modelwatch[{extra}]'")


def test_an_import_error_of_a_required_module_is_not_disguised():
    error = ModuleNotFoundError("No module named 'yaml'", name="yaml")
    assert extras.explain(error) is None
    assert "sklearn" in str(extras.explain(ModuleNotFoundError(name="sklearn.linear_model")))
