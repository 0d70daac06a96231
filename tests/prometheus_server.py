"""Run a real Prometheus (Debian's binary) in a test, and query it."""

from __future__ import annotations

import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from modelwatch.core.config import Config
from modelwatch.rules import GENERATED_DIR
from modelwatch.rules.prometheus_config import write_prometheus_config
from tests.conftest import require_binary
from tests.model_service.served import free_port
from tests.waiting import wait_until_ok


@contextmanager
def run_prometheus(config: Config, workdir: Path, rule_dir: Path = GENERATED_DIR, extra_jobs: list[dict] | None = None):
    """Prometheus scraping what ``config`` names, with the project's rules; yields its base URL."""
    binary = require_binary("prometheus")
    port = free_port()
    config_file = write_prometheus_config(config, workdir / "prometheus.yml", rule_dir, extra_jobs)
    log = open(workdir / "prometheus.log", "w")
    process = subprocess.Popen(
        [binary, f"--config.file={config_file}", f"--storage.tsdb.path={workdir / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{base}/-/ready", process, why=lambda: (workdir / "prometheus.log").read_text()[-2000:])
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def query(base: str, expr: str) -> list[dict]:
    """Instant query; raises on a PromQL error."""
    answer = requests.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", f"{expr}: {answer.get('error')}"
    return answer["data"]["result"]


def wait_for(base: str, expr: str, ready, timeout: float = 60) -> list[dict]:
    """Poll ``expr`` until ``ready(result)`` holds; returns that result."""
    deadline = time.monotonic() + timeout
    while True:
        result = query(base, expr)
        if ready(result):
            return result
        assert time.monotonic() < deadline, f"{expr} did not get ready in {timeout} s; last: {result}"
        time.sleep(0.5)
