"""The exporter's exposition passes `promtool check metrics` in every state of
the baselines: none recorded, one recorded, and a broken one being rejected."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import require_binary
from tests.exporter.served import run_exporter
from tests.exporter.test_baseline import PERFORMANCE

pytestmark = pytest.mark.integration


def _lint(text: str) -> list[str]:
    """promtool's findings, less the camelCase ones on node_exporter's own names
    (node_memory_MemTotal_bytes...), which the host collector keeps on purpose."""
    result = subprocess.run([require_binary("promtool"), "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=60)
    findings = (result.stdout + result.stderr).strip().splitlines()
    return [line for line in findings
            if not (line.startswith("node_") and "should be written in 'snake_case' not 'camelCase'" in line)]


@pytest.mark.parametrize("state", ["no performance baseline", "performance baseline", "broken baseline"])
def test_the_exposition_is_lint_clean(state_dir, state):
    version = state_dir / "models" / "iris" / "v1"
    ready = ["modelwatch_baseline_rows"]
    if state == "performance baseline":
        (version / "performance-baseline.json").write_text(json.dumps(PERFORMANCE))
        ready.append('modelwatch_baseline_latency_seconds{latency_quantile="0.95"')
    elif state == "broken baseline":
        (version / "performance-baseline.json").write_text("{not json")
        ready.append("modelwatch_baseline_load_failures_total{")
    with run_exporter(state_dir, tuple(ready)) as (_, text):
        pass
    assert "modelwatch_baseline" in text
    assert _lint(text) == []
