"""modelwatch up / status / down with the real components on free loopback ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import grpc
import psutil
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelwatch.cli import main
from modelwatch.core.errors import ModelwatchError
from modelwatch.local.stack import Stack
from tests.conftest import make_config, require_binary
from tests.model_service.served import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def stack_env(state_dir, **extra) -> dict[str, str]:
    env = {
        "PATHS__STATE_DIR": str(state_dir), "SERVICE__PORT": free_port(), "EXPORTER__PORT": free_port(),
        "PROMETHEUS__PORT": free_port(), "PROMETHEUS__ALERTMANAGER_PORT": free_port(), "AUTOSCALER__PORT": free_port(),
        "EDGE__METRICS_PORT": free_port(), "EDGE__SERVICE_METRICS_PORT": free_port(),
        "SERVICE__GRPC_PORT": free_port(),
        **extra,
    }
    return {f"MODELWATCH_{k}": str(v) for k, v in env.items()}


@pytest.fixture
def env(state_dir, monkeypatch):
    require_binary("prometheus")
    require_binary("prometheus-alertmanager")
    values = stack_env(state_dir)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    yield values
    main(["down"])


def _gone(pids) -> bool:
    return not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)


def test_up_status_down(env, state_dir, capsys):
    assert main(["up"]) == 0
    out = capsys.readouterr().out
    for name, port in (("service", "SERVICE__PORT"), ("prometheus", "PROMETHEUS__PORT")):
        assert f"http://127.0.0.1:{env['MODELWATCH_' + port]}" in out and name in out
    assert main(["status"]) == 0
    status = capsys.readouterr().out
    assert status.count("healthy") == 7 and "service replicas (gunicorn workers): 2" in status
    config = make_config(state_dir, **{k[len("MODELWATCH_"):]: v for k, v in env.items() if k != "MODELWATCH_PATHS__STATE_DIR"})
    pids = list(Stack(config).running().values())
    assert len(pids) == 7
    # Prometheus scrapes every component with the project's rules loaded; the service, through the edge.
    prometheus = f"http://127.0.0.1:{env['MODELWATCH_PROMETHEUS__PORT']}"
    groups = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert any(g["name"] == "modelwatch-drift.rules" for g in groups)
    edge = requests.get(f"http://127.0.0.1:{env['MODELWATCH_EDGE__METRICS_PORT']}/metrics", timeout=5).text
    assert 'haproxy_backend_http_responses_total{proxy="service",code="2xx"}' in edge
    # The service's /metrics is on its own port, where Prometheus scrapes it, and not through the API.
    service_metrics = f"http://127.0.0.1:{env['MODELWATCH_EDGE__SERVICE_METRICS_PORT']}/metrics"
    assert "http_server_request_duration_seconds" in requests.get(service_metrics, timeout=5).text
    assert requests.get(f"http://127.0.0.1:{env['MODELWATCH_SERVICE__PORT']}/metrics", timeout=5).status_code == 404
    def service_targets():  # Prometheus applies discovered targets a few seconds after it is ready
        targets = requests.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        return [t["scrapeUrl"] for t in targets if t["labels"]["job"] == "model-service"]

    assert wait_until(service_targets, 30, lambda: "no model-service target") == [service_metrics]
    # The Open Inference Protocol over gRPC, on the service's own port beside the edge.
    grpc_address = f"127.0.0.1:{env['MODELWATCH_SERVICE__GRPC_PORT']}"
    assert f"grpc://{grpc_address}" in out
    with grpc.insecure_channel(grpc_address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert main(["down"]) == 0
    assert "stopped supervisor, autoscaler, prometheus, alertmanager, exporter, service, edge" in capsys.readouterr().out
    assert _gone(pids)
    assert main(["status"]) == 1  # nothing healthy


def test_a_busy_port_is_one_line_and_starts_nothing(env, capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(env["MODELWATCH_PROMETHEUS__PORT"])))
        busy.listen()
        assert main(["up"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("modelwatch up: error: prometheus: cannot bind 127.0.0.1:") and "\n" not in err
    assert not (make_config_from_env(env)).paths.state_dir.joinpath("stack", "processes.json").exists()


def make_config_from_env(env):
    from modelwatch.core.config import load_config

    return load_config(env=env)


def test_a_missing_binary_is_one_line(env, monkeypatch):
    import modelwatch.local.stack as stack_module

    monkeypatch.setattr(stack_module.shutil, "which", lambda name: None if name == "prometheus-alertmanager" else "/x")
    with pytest.raises(ModelwatchError, match="prometheus-alertmanager is not installed"):
        Stack(make_config_from_env(env)).preflight()


def test_a_component_dying_at_start_stops_the_others(env, monkeypatch, capsys):
    monkeypatch.setenv("MODELWATCH_PROMETHEUS__RETENTION", "forever")  # Prometheus refuses it at start
    assert main(["up"]) == 1
    err = capsys.readouterr().err
    assert "modelwatch up: error: prometheus exited at start:" in err and "forever" in err
    config = make_config_from_env(dict(os.environ))
    assert Stack(config).running() == {}
    port = int(env["MODELWATCH_SERVICE__PORT"])
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_down_cleans_up_after_an_up_that_was_killed(env, state_dir):
    record = state_dir / "stack" / "processes.json"
    up = subprocess.Popen([sys.executable, "-m", "modelwatch", "up"], env=dict(os.environ),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (record.exists() and len(json.loads(record.read_text() or "{}")) >= 3):
        assert time.monotonic() < deadline and up.poll() is None, "up did not get to its third component"
        time.sleep(0.1)
    up.send_signal(signal.SIGKILL)
    up.wait()
    pids = [entry["pid"] for entry in json.loads(record.read_text()).values()]
    assert not _gone(pids)  # left running by the killed up
    assert main(["down"]) == 0
    assert _gone(pids) and not record.exists()
