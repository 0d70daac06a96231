"""Running a scenario headless with Locust (a subprocess: Locust monkey-patches
the process with gevent), with CSV and HTML reports and the SLO gate's verdict
in the run's output folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from modelwatch.loadtests.scenarios import SCENARIOS
from modelwatch.core import extras
from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass(frozen=True)
class LoadRun:
    scenario: str
    users: int
    duration: float
    url: str
    api_key: str
    out_dir: Path
    rate_per_user: float = 2.0


def default_out_dir(config: Config, scenario: str) -> Path:
    return Path(config.paths.state_dir) / "loadtests" / f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario}"


def start(run: LoadRun, config: Config) -> subprocess.Popen:
    if run.scenario not in SCENARIOS:
        raise ModelwatchError(f"unknown scenario {run.scenario!r}; one of {', '.join(SCENARIOS)}")
    extras.require("load")  # before the Locust subprocess would fail with a traceback
    run.out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        MODELWATCH_LOAD_SCENARIO=run.scenario, MODELWATCH_LOAD_USERS=str(run.users),
        MODELWATCH_LOAD_DURATION=str(run.duration), MODELWATCH_LOAD_API_KEY=run.api_key,
        MODELWATCH_LOAD_RATE_PER_USER=str(run.rate_per_user), MODELWATCH_LOAD_OUT=str(run.out_dir),
        MODELWATCH_LOAD_AVAILABILITY_TARGET=str(config.slo.availability_target),
        MODELWATCH_LOAD_LATENCY_THRESHOLD=str(config.slo.latency_threshold_seconds),
    )
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", run.url,
            "--csv", str(run.out_dir / "locust"), "--csv-full-history", "--html", str(run.out_dir / "report.html"),
            "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5"]
    log = open(run.out_dir / "locust.log", "w")
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)


def verdict(run: LoadRun) -> dict:
    try:
        return json.loads((run.out_dir / "slo-gate.json").read_text())
    except (FileNotFoundError, ValueError):
        log = (run.out_dir / "locust.log").read_text(errors="replace").strip().splitlines()
        raise ModelwatchError(f"locust did not finish the run: {log[-1] if log else 'no output'}") from None
