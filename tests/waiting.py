"""Waiting for a server a test started: until a URL answers 200, failing early if its process died."""

from __future__ import annotations

import subprocess
import time
from typing import Callable

import requests


def wait_until_ok(url: str, process: subprocess.Popen | None = None, timeout: float = 30,
                  why: Callable[[], str] = lambda: "") -> requests.Response:
    """The first 200 answer of ``url``; fails with ``why()`` (e.g. the log's tail) if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        assert process is None or process.poll() is None, f"the process behind {url} exited: {why()}"
        try:
            answer = requests.get(url, timeout=2)
            if answer.status_code == 200:
                return answer
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer in {timeout:.0f} s {why()}"
        time.sleep(0.2)
