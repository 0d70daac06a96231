"""F10: components of the local stack killed after ``modelwatch up``: the supervisor starts them again."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
import requests

from modelwatch.core.config import load_config
from modelwatch.local.stack import Stack
from tests.faults.local_stack import local_stack

pytestmark = pytest.mark.integration


def seconds_until_back(stack: Stack, name: str, url: str, timeout: float = 60.0) -> float:
    """SIGKILL the component's recorded process; seconds until a new one is recorded and answers ``url``."""
    old = stack.read_record()[name].pid
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()
    while True:
        recorded = stack.read_record().get(name)
        try:
            if recorded and recorded.pid != old and recorded.live() and requests.get(url, timeout=2).status_code == 200:
                return time.monotonic() - killed
        except requests.RequestException:
            pass
        assert time.monotonic() - killed < timeout, f"{name} not back in {timeout:.0f} s"
        time.sleep(0.1)


def test_f10_a_killed_component_is_started_again_and_down_still_stops_everything(state_dir, monkeypatch, report):
    figures = {}
    with local_stack(state_dir, monkeypatch) as env:
        stack = Stack(load_config())
        prometheus = f"http://127.0.0.1:{env['MODELWATCH_PROMETHEUS__PORT']}/-/ready"
        service = f"http://127.0.0.1:{env['MODELWATCH_SERVICE__PORT']}/readyz"
        figures["prometheus"] = round(seconds_until_back(stack, "prometheus", prometheus), 1)
        figures["service"] = round(seconds_until_back(stack, "service", service), 1)
        recorded = [p.pid for p in stack.read_record().values()]
    time.sleep(0.5)
    left = [pid for pid in recorded if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    log = (state_dir / "log" / "supervisor.log").read_text()
    report("F10", seconds_to_restart=figures, processes_left_after_down=len(left))
    assert all(seconds <= 10 for seconds in figures.values()), figures
    assert left == []
    assert "prometheus was not running: started it again" in log and "service was not running" in log
