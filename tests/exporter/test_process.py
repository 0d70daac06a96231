"""The process collector against a real multi-worker service: /proc agrees, and
workers added and removed while it runs appear and disappear."""

from __future__ import annotations

import os
import signal
import time

import pytest
from prometheus_client import CollectorRegistry

from modelwatch.exporter.collectors.process import ProcessCollector
from tests.model_service.served import serve, worker_pids

pytestmark = pytest.mark.integration
PAGE = os.sysconf("SC_PAGE_SIZE")


def pids_reported(registry) -> set[int]:
    return {int(s.labels["pid"]) for f in registry.collect() for s in f.samples
            if s.name == "modelwatch_process_start_time_seconds"}


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.1)
    return predicate()


def test_follows_the_service_and_agrees_with_proc(state_dir):
    with serve(state_dir, workers=2) as (_, process):
        collector = ProcessCollector("model-service", state_dir / "run" / "service.pid")
        registry = CollectorRegistry()
        registry.register(collector)
        expected = {process.pid} | worker_pids(process.pid)
        assert pids_reported(registry) == expected
        assert registry.get_sample_value("namedprocess_namegroup_num_procs", {"groupname": "model-service"}) == 3

        worker = min(worker_pids(process.pid))
        labels = {"groupname": "model-service", "pid": str(worker)}
        rss = registry.get_sample_value("modelwatch_process_resident_memory_bytes", labels)
        statm_rss = int(open(f"/proc/{worker}/statm").read().split()[1]) * PAGE
        assert rss == pytest.approx(statm_rss, rel=0.05)
        fds = registry.get_sample_value("modelwatch_process_open_fds", labels)
        assert fds == pytest.approx(len(os.listdir(f"/proc/{worker}/fd")), abs=2)
        ticks = int(open(f"/proc/{worker}/stat").read().rsplit(")", 1)[1].split()[11])
        user = registry.get_sample_value("modelwatch_process_cpu_seconds_total", {**labels, "mode": "user"})
        assert user == pytest.approx(ticks / os.sysconf("SC_CLK_TCK"), abs=0.05)

        # gunicorn adds a worker on TTIN and removes one on TTOU.
        process.send_signal(signal.SIGTTIN)
        assert wait_for(lambda: len(worker_pids(process.pid)) == 3)
        added = worker_pids(process.pid) - expected
        assert wait_for(lambda: added <= pids_reported(registry))
        process.send_signal(signal.SIGTTOU)
        assert wait_for(lambda: len(worker_pids(process.pid)) == 2)
        assert wait_for(lambda: pids_reported(registry) == {process.pid} | worker_pids(process.pid))
    # The service is gone: no per-process series, the group counts none.
    assert pids_reported(registry) == set()
    assert registry.get_sample_value("namedprocess_namegroup_num_procs", {"groupname": "model-service"}) == 0


def test_pattern_finds_processes_without_a_pid_file(tmp_path):
    collector = ProcessCollector("pytest", pattern=r"pytest")
    assert os.getpid() in {p.pid for p in collector.processes()}
