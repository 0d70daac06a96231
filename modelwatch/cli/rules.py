"""modelwatch rules: write the Prometheus rules, prometheus.yml and
alertmanager.yml generated from the configuration, and check them with
promtool and amtool when they are installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from modelwatch.core.errors import ModelwatchError
from modelwatch.rules import write_rule_files
from modelwatch.rules.alertmanager_config import write_alertmanager_config
from modelwatch.rules.prometheus_config import write_prometheus_config
from modelwatch.core.config import Config


def add_arguments(parser, config: Config) -> None:
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("prometheus"),
                        help="folder to write into: rules/*.rules.yml, prometheus.yml, alertmanager.yml"
                             " (default: ./prometheus)")
    parser.add_argument("--no-check", action="store_true", help="do not run promtool and amtool on the result")


def check(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        print(f"  {command[0]} not installed: not checked")
        return
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise ModelwatchError(f"{command[0]} rejected the output: {detail[-1] if detail else result.returncode}")


def run(args, config) -> int:
    out: Path = args.out
    rule_dir = out / "rules"
    written = write_rule_files(config, rule_dir)
    prometheus = write_prometheus_config(config, out / "prometheus.yml", rule_dir.resolve())
    alertmanager = write_alertmanager_config(config, out / "alertmanager.yml")
    for path in [*written, prometheus, alertmanager]:
        print(path)
    if not args.no_check:
        check(["promtool", "check", "config", str(prometheus)])
        check(["amtool", "check-config", str(alertmanager)])
        print("checked with promtool and amtool")
    return 0
