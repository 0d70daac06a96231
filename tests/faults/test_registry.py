"""F3 and F4: a read-only registry, and a deployment whose artifact is unreadable for a moment,
under real gunicorn (a read-only bind mount, as an image's baked-in registry; a real SIGHUP)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from modelwatch.model_service.keys import KeyStore
from modelwatch.models.registry import Deployment, Registry
from tests.model_service.served import serve, worker_pids

pytestmark = pytest.mark.integration

QUERY = "sl=5.1&sw=3.5&pl=1.4&pw=0.3"


@contextmanager
def read_only(folder: Path):
    """``folder`` as a read-only bind mount of itself (root ignores file modes; a mount it cannot)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only bind mount needs root and mount(8)")
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def sample_sum(metrics: str, name: str, **labels) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_f3_a_read_only_registry_answers_admin_calls_with_a_reason_and_sighup_keeps_the_master(state_dir, report):
    admin = {"X-API-Key": KeyStore(state_dir / "keys.json").add("ops", role="admin")}
    registry_dir = state_dir / "models"
    with serve(state_dir) as (base, master), read_only(registry_dir):
        master.send_signal(signal.SIGHUP)
        reload = requests.post(f"{base}/api/v1/admin/reload", headers=admin, timeout=30)
        deploy = requests.put(f"{base}/api/v1/admin/deployment", json={"stable": "v2"}, headers=admin, timeout=60)
        time.sleep(1)
        alive = master.poll() is None
        serving = requests.get(f"{base}/api/v1/classify?{QUERY}", headers=admin, timeout=30)
    log = (state_dir / "serve.log").read_text()
    report("F3", master_alive_after_sighup=alive, admin_reload=reload.status_code, put_deployment=deploy.status_code)
    assert alive and "SIGHUP: cannot ask the workers to reload" in log
    for response in (reload, deploy):
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "registry_not_writable"
        assert "Read-only file system" in response.json()["error"]["message"]
    assert serving.status_code == 200 and serving.json()["model_version"] == "v1"  # nothing changed


def test_f4_an_artifact_unreadable_for_a_moment_is_served_once_it_is_back(state_dir, report):
    key = KeyStore(state_dir / "keys.json").add("alice")
    registry = Registry(state_dir / "models", "iris")
    artifact = registry.version_dir("v2") / "model.skops"
    poll = 0.5
    with serve(state_dir, workers=2, reload_poll_seconds=poll) as (base, master):
        workers = worker_pids(master.pid)
        hidden = artifact.with_name("model.skops.away")
        artifact.rename(hidden)  # unreadable while the deployment changes
        registry.set_deployment(Deployment("v2"))
        time.sleep(4 * poll)  # every worker tries, fails, and is behind
        behind = requests.get(f"{base}/readyz", timeout=10).json()
        metrics_behind = requests.get(f"{base}/metrics", timeout=10).text
        hidden.rename(artifact)
        back = time.monotonic()
        # Fresh connections, so both workers answer; all must say v2.
        deadline = back + 10 * poll + 30
        while True:
            versions = {requests.get(f"{base}/api/v1/classify?{QUERY}", headers={"X-API-Key": key, "Connection": "close"},
                                     timeout=10).json()["model_version"] for _ in range(20)}
            if versions == {"v2"}:
                break
            assert time.monotonic() < deadline, f"still serving {versions}"
            time.sleep(0.1)
        seconds = time.monotonic() - back
        time.sleep(2 * poll)  # and the gauge says so
        metrics = requests.get(f"{base}/metrics", timeout=10).text
        same_workers = worker_pids(master.pid) == workers
    failures = sample_sum(metrics, "model_reload_failures_total", model_name="iris")
    report("F4", seconds_until_every_worker_serves_it=round(seconds, 2), reload_failures_counted=failures,
           deployment_current_while_behind=sample_sum(metrics_behind, "model_deployment_current", model_name="iris"))
    assert "iris" in behind.get("behind_deployment", {})
    assert str(state_dir) not in json.dumps(behind)  # /readyz is open to anyone: the reason, not the path
    assert sample_sum(metrics_behind, "model_deployment_current", model_name="iris") == 0
    assert sample_sum(metrics, "model_deployment_current", model_name="iris") == 1
    assert failures == len(workers)  # one per worker for the one change, not one per retry
    assert same_workers  # the watchers healed in place: no worker had to be replaced
    assert seconds <= 2 * (poll + 5)  # a poll and a load, twice over for a busy machine
