"""Waiting in tests: until a check holds, or until a server a test started
answers 200 (failing early if its process died)."""

from __future__ import annotations

import subprocess
import time
from typing import Callable, TypeVar

import requests

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, why: Callable[[], str], interval: float = 0.5) -> T:
    """The first truthy result of ``check()``; fails with ``why()`` once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, why()
        time.sleep(interval)


def wait_until_ok(url: str, process: subprocess.Popen | None = None, timeout: float = 30,
                  why: Callable[[], str] = lambda: "") -> requests.Response:
    """The first 200 answer of ``url``; fails with ``why()`` (e.g. the log's tail) if the process exits or time runs out."""
    def answer() -> requests.Response | None:
        assert process is None or process.poll() is None, f"the process behind {url} exited: {why()}"
        try:
            response = requests.get(url, timeout=5)
        except (requests.ConnectionError, requests.Timeout):
            return None  # refused, or too busy to answer yet: not yet either way
        return response if response.status_code == 200 else None

    return wait_until(answer, timeout, lambda: f"{url} did not answer in {timeout:.0f} s {why()}", interval=0.2)
