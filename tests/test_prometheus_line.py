"""Which Prometheus this run tests against: bookworm's 2.42 and Alertmanager 0.25
by default, and in `make test`'s second run of the Prometheus tests the line most
users run today (scripts/current-prometheus.sh: 3.5 and 0.33), named by
MODELWATCH_TEST_PROMETHEUS_LINE, so that run cannot quietly use the old binaries."""

from __future__ import annotations

import os
import re
import subprocess

from tests.conftest import require_binary

MINIMUM = {"prometheus": (2, 42), "promtool": (2, 42), "prometheus-alertmanager": (0, 25)}


def version(binary: str) -> tuple[int, int]:
    out = subprocess.run([require_binary(binary), "--version"], capture_output=True, text=True, timeout=30)
    major, minor = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr).groups()
    return int(major), int(minor)


def test_the_binaries_on_the_path_are_the_line_this_run_tests():
    found = {binary: version(binary) for binary in MINIMUM}
    assert all(found[binary] >= minimum for binary, minimum in MINIMUM.items()), found
    line = os.environ.get("MODELWATCH_TEST_PROMETHEUS_LINE")
    if line:  # "3.5/0.33": Prometheus and promtool, then Alertmanager
        prometheus, alertmanager = (tuple(map(int, part.split("."))) for part in line.split("/"))
        assert found["prometheus"] == found["promtool"] == prometheus, found
        assert found["prometheus-alertmanager"] == alertmanager, found
