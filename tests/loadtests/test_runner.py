"""modelwatch load for real: Locust against the real service; the SLO gate
decides the exit status and the reports are written."""

from __future__ import annotations

import json

import pytest

from modelwatch.cli import main
from tests.model_service.served import free_port, serve

pytestmark = pytest.mark.integration


def test_a_run_within_the_slo_passes_and_writes_its_reports(state_dir, keys, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    with serve(state_dir, workers=1) as (base, _):
        code = main(["load", "steady", "--users", "5", "--duration", "6", "--url", base, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    failures = (tmp_path / "locust_failures.csv").read_text() if (tmp_path / "locust_failures.csv").exists() else ""
    assert code == 0, out + failures  # which requests failed, and why
    assert "SLO met" in out
    gate = json.loads((tmp_path / "slo-gate.json").read_text())
    assert gate["passed"] and gate["requests"] > 20 and gate["failures"] == 0
    stats = (tmp_path / "locust_stats.csv").read_text()
    # The invalid requests were sent, answered with a 4xx and counted as expected, not as failures.
    assert "invalid [" in stats and "/api/v1/classify [GET]" in stats and "/api/v1/predict" in stats
    assert (tmp_path / "report.html").stat().st_size > 10_000


def test_a_run_that_breaks_the_slo_exits_1_and_says_why(state_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: every request fails
    code = main(["load", "steady", "--users", "2", "--duration", "3", "--url", nowhere, "--key", "x",
                 "--out", str(tmp_path)])
    assert code == 1
    assert "SLO broken: error ratio 100.000% above 0.100%" in capsys.readouterr().out
