"""F12: the Docker daemon stops under a running exporter.

The real exporter follows a real container through the real engine; then the daemon
(started by these tests) is stopped. The container's series must stop being served
within two scrapes, not be repeated as if current; and once the daemon is back, a
container started on it is served again without restarting the exporter.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.exporter.docker_engine import IMAGE
from tests.exporter.served import run_exporter

pytestmark = pytest.mark.integration

SCRAPE_INTERVAL = 1.0  # seconds between this test's scrapes, as Prometheus's interval would be


def served_containers(base: str) -> set[str] | None:
    """Names of the containers served, or None when the collector reports failure."""
    try:
        text = requests.get(f"{base}/metrics", timeout=10).text
    except requests.Timeout:  # a busy machine: count it as a missed scrape
        return None
    names = {line.split('name="')[1].split('"')[0] for line in text.splitlines()
             if line.startswith("container_last_seen{")}
    return names


def test_f12_a_stopped_daemon_s_containers_stop_being_served_and_come_back_with_it(docker_engine, state_dir,
                                                                                   report):
    if not docker_engine.owned:
        pytest.skip("the Docker daemon was not started by these tests; not stopping someone else's")
    key, value = "modelwatch.fault", uuid.uuid4().hex[:8]
    run = dict(detach=True, network_mode="none", labels={key: value})
    first = docker_engine.client.containers.run(IMAGE, ["sleep", "600"], name=f"f12-a-{value}", **run)
    env = dict(MODELWATCH_EXPORTER__COLLECTORS="docker", MODELWATCH_EXPORTER__DOCKER_LABEL_FILTER=f"{key}={value}")
    second = None
    try:
        with run_exporter(state_dir, (f'name="{first.name}"',), env) as (base, _):
            docker_engine.stop()  # returns once dockerd has exited
            stopped = time.monotonic()
            scrapes_still_serving = 0
            while first.name in (served_containers(base) or set()):
                scrapes_still_serving += 1
                assert scrapes_still_serving < 30, "the stopped daemon's container is still served after 30 scrapes"
                time.sleep(SCRAPE_INTERVAL)
            gone_after = time.monotonic() - stopped
            docker_engine.start()
            second = docker_engine.client.containers.run(IMAGE, ["sleep", "600"], name=f"f12-b-{value}", **run)
            restarted = time.monotonic()
            while second.name not in (served_containers(base) or set()):
                assert time.monotonic() - restarted < 60, "the exporter did not follow the daemon once it came back"
                time.sleep(SCRAPE_INTERVAL / 4)
            recovered_after = time.monotonic() - restarted
    finally:
        if docker_engine.daemon is None:
            docker_engine.start()  # later tests need the engine
        for container in (first, second):
            if container is not None:
                try:
                    container.remove(force=True)
                except Exception:
                    pass  # gone with the daemon's shutdown
    report("F12", scrapes_serving_stale_containers=scrapes_still_serving, seconds_until_gone=round(gone_after, 1),
           seconds_to_serve_a_new_container_after_restart=round(recovered_after, 1))
    assert scrapes_still_serving <= 1  # gone by the second scrape after the daemon stopped
