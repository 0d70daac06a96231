"""Running the promtool unit tests in tests/rules/promtool/ against the generated rules.

The test files are plain ``promtool test rules`` files without ``rule_files``
and without ``runbook_url`` in the expected annotations: both are filled in
here (every generated rule file; the URL every alert must carry), so a test
file states only what a person checks.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from modelwatch.core.config import Config
from modelwatch.rules import GENERATED_DIR, MODULES

TEST_DIR = Path(__file__).parent / "promtool"


def promtool_files() -> list[Path]:
    return sorted(TEST_DIR.glob("*.test.yml"))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def group_names(rule_files: list[Path]) -> list[str]:
    return [group["name"] for path in rule_files for group in load(path)["groups"]]


def complete(spec: dict, rule_files: list[Path], runbook_url: str) -> dict:
    # Groups run in dependency order (the order of rules.MODULES): left to
    # promtool, cross-group lags vary from run to run and so would the values.
    spec = dict(spec, rule_files=[str(p) for p in rule_files], group_eval_order=group_names(rule_files))
    for test in spec["tests"]:
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts") or []:
                if "exp_annotations" in alert:
                    anchor = case["alertname"].lower()
                    alert["exp_annotations"] = {**alert["exp_annotations"], "runbook_url": f"{runbook_url}#{anchor}"}
    return spec


def run_promtool(promtool: str, path: Path, workdir: Path, spec: dict | None = None,
                 rule_files: list[Path] | None = None) -> subprocess.CompletedProcess:
    """promtool's unit tests of ``path`` (or ``spec``, a changed copy) against the committed generated
    rules (or ``rule_files``)."""
    rule_files = rule_files or [GENERATED_DIR / name for name in MODULES]
    spec = complete(spec or load(path), rule_files, Config().alerts.runbook_url)
    target = workdir / path.name
    target.write_text(yaml.safe_dump(spec, sort_keys=False))
    return subprocess.run([promtool, "test", "rules", str(target)], capture_output=True, text=True, timeout=300)
