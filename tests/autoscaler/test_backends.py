"""Scaling the local service's gunicorn workers for real, under clients that keep
their connections alive: new workers must get a share of the load, and removing
workers must not fail a request."""

from __future__ import annotations

import threading
import time

import psutil
import pytest
import requests

from modelwatch.autoscaler.backends import GunicornWorkers
from modelwatch.core.errors import ModelwatchError
from tests.model_service.served import every_worker_loaded, serve

pytestmark = pytest.mark.integration
CLIENTS = 4


class KeepAliveLoad:
    """Clients that each hold one kept-alive connection (requests.Session) and send classify requests in a loop."""

    def __init__(self, base: str, key: str):
        self.base, self.key = base, key
        self.stop = threading.Event()
        self.ok = self.failed = 0
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def _run(self):
        session = requests.Session()
        session.headers["X-API-Key"] = self.key
        while not self.stop.is_set():
            try:
                answer = session.get(f"{self.base}/api/v1/classify", params={"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.2},
                                     timeout=10)
                if answer.status_code == 200:
                    self.ok += 1
                else:
                    self.failed += 1
                    self.errors.append(str(answer.status_code))
            except requests.RequestException as exc:
                self.failed += 1
                self.errors.append(type(exc).__name__)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(15)


def _cpu_seconds(pids: list[str]) -> dict[str, float]:
    times = {}
    for pid in pids:
        cpu = psutil.Process(int(pid)).cpu_times()
        times[pid] = cpu.user + cpu.system
    return times


def _share_of_new_workers(state_dir, keys, **settings) -> tuple[dict[str, float], KeepAliveLoad]:
    with serve(state_dir, workers=1, **settings) as (base, process):
        backend = GunicornWorkers(state_dir / "run" / "service.pid")
        with KeepAliveLoad(base, keys["user"]) as load:
            time.sleep(1.5)  # every client connected to the only worker
            old = {r.name for r in backend.replicas()}
            backend.scale_to(3)
            new = [r.name for r in backend.replicas() if r.name not in old]
            # The new workers boot and load the models (their CPU must not count): on a busy machine that
            # took longer than the 4 s once allowed, so wait until each has loaded, then let it settle.
            deadline = time.monotonic() + 60
            while not every_worker_loaded(state_dir, process.pid, 3, settings):
                assert time.monotonic() < deadline, "the new workers did not load the models within 60 s"
                time.sleep(0.2)
            time.sleep(1.0)
            before = _cpu_seconds(new)
            time.sleep(3.0)
            after = _cpu_seconds(new)
        return {pid: after[pid] - before[pid] for pid in new}, load


def test_new_workers_serve_clients_that_keep_their_connections(state_dir, keys):
    used, load = _share_of_new_workers(state_dir, keys, keepalive_max_requests=50)
    assert len(used) == 2
    assert all(seconds > 0.15 for seconds in used.values()), used  # each new worker is busy serving
    assert load.failed == 0, load.errors[:5]


def test_without_recycling_kept_alive_connections_stay_on_the_old_worker(state_dir, keys):
    # The control for the test above: the same load, connections never recycled.
    used, load = _share_of_new_workers(state_dir, keys, keepalive_max_requests=10**9)
    assert all(seconds < 0.1 for seconds in used.values()), used  # idle: no connection ever reaches them
    assert load.failed == 0


def test_removing_workers_under_load_fails_no_request(state_dir, keys):
    with serve(state_dir, workers=4, keepalive_max_requests=50) as (base, process):
        backend = GunicornWorkers(state_dir / "run" / "service.pid")
        with KeepAliveLoad(base, keys["user"]) as load:
            time.sleep(1.0)
            backend.scale_to(1)
            time.sleep(1.5)
            served_after = load.ok
            time.sleep(1.0)
        assert len(backend.replicas()) == 1
        assert load.ok > served_after > 0
        assert load.failed == 0, load.errors[:5]


def test_a_missing_service_is_a_one_line_error(tmp_path):
    with pytest.raises(ModelwatchError, match="the model service is not running"):
        GunicornWorkers(tmp_path / "service.pid").replicas()
