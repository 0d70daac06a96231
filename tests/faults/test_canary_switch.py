"""F15: a canary version that no worker has loaded before is switched in while wrk drives the service."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
import requests

from modelwatch.model_service.keys import KeyStore
from tests.conftest import require_binary
from tests.model_service.served import serve

pytestmark = pytest.mark.integration


def test_f15_switching_in_a_never_loaded_canary_under_load_fails_no_request(state_dir, report):
    require_binary("wrk")
    store = KeyStore(state_dir / "keys.json")
    user, admin = store.add("alice"), store.add("ops", role="admin")
    with serve(state_dir, workers=2, reload_poll_seconds=0.2) as (base, _):
        load = subprocess.Popen(["wrk", "-t1", "-c16", "-d8s", f"{base}/api/v1/classify?sl=5.1&sw=3.5&pl=1.4&pw=0.3&key={user}"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(2)
        switched = requests.put(f"{base}/api/v1/admin/deployment", json={"stable": "v1", "canary": "v2", "canary_weight": 0.5},
                                headers={"X-API-Key": admin}, timeout=60)
        output = load.communicate(timeout=120)[0]
        served = {requests.get(f"{base}/api/v1/classify?sl=5.1&sw=3.5&pl=1.4&pw=0.3", headers={
            "X-API-Key": user, "Connection": "close"}, timeout=10).json()["model_version"] for _ in range(40)}
    non_2xx = int(re.search(r"Non-2xx or 3xx responses: (\d+)", output).group(1)) if "Non-2xx" in output else 0
    errors = re.search(r"Socket errors: (.*)", output)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    report("F15", five_xx_during_switch=non_2xx, requests_per_second=rate, socket_errors=errors.group(1) if errors else None)
    assert switched.status_code == 200, switched.text
    assert non_2xx == 0 and errors is None, output
    assert rate >= 100  # the switch happened under real load
    assert served == {"v1", "v2"}
