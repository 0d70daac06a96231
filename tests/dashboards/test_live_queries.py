"""Every query of every panel, with its template variables resolved the way
Grafana resolves them, run against a real Prometheus that scrapes a real model
service (gunicorn, stable and canary versions, real traffic) and the real
exporter (baseline, host, process, and the kubernetes collector against
recorded API objects). Three models serve: the Iris classifier, a registered
pipeline with categorical and missing inputs (penguins) and a registered
regressor (diabetes), so every model-specific panel has a model to show.
There is no Grafana server here: this is the stand-in, and each query must be
valid PromQL and return data."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
import requests
import yaml
from sklearn.datasets import load_iris

from modelwatch.dashboards import dashboard_files
from modelwatch.models.registry import Deployment, Registry
from modelwatch.core.config import Config
from modelwatch.rules import rule_files
from tests.conftest import make_config
from tests.exporter.fake_kube_api import FakeApiServer
from tests.exporter.served import run_exporter
from tests.model_service.served import free_port, serve
from tests.own_models import register_all, request_rows
from tests.prometheus_server import query, run_prometheus, wait_for

pytestmark = pytest.mark.integration
OWN_MODELS = ("penguins", "diabetes")
RATE_INTERVAL = "1m"  # Grafana's $__rate_interval for a 15 s scrape interval
LABEL_VALUES = re.compile(r"label_values\((.*),\s*(\w+)\)$")


def _performance_baseline(state_dir, version: str) -> None:
    (state_dir / "models" / "iris" / version / "performance-baseline.json").write_text(json.dumps({
        "recorded": "2026-11-26T00:00:00Z", "window_seconds": 300,
        "latency_seconds": {"0.5": 0.002, "0.95": 0.01, "0.99": 0.02},
        "requests_per_second_per_replica": 50, "cpu_seconds_per_request": 0.002,
        "memory_bytes_per_replica": 150e6, "error_ratio": 0.0,
    }))


def _rules_for_a_fast_test(config, rule_dir) -> None:
    """The generated rules, with the 5-minute budget group run every second (the PromQL is unchanged)."""
    rule_dir.mkdir()
    for name, text in rule_files(config).items():
        document = yaml.safe_load(text)
        for group in document["groups"]:
            if group.get("interval") == "5m":
                group["interval"] = "1s"
        (rule_dir / name).write_text(yaml.safe_dump(document, sort_keys=False))


def _send_grpc_calls(grpc_port: int, key: str) -> None:
    """ModelInfer calls for the gRPC row: answered, and one refused for its shape."""
    import grpc

    from modelwatch.protocol import open_inference_grpc_pb2 as pb
    from modelwatch.protocol import open_inference_grpc_pb2_grpc as pb_grpc

    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        for rows in (1, 5, 5, 1):
            request = pb.ModelInferRequest(model_name="iris")
            tensor = request.inputs.add(name="input-0", datatype="FP64", shape=[rows, 4])
            tensor.contents.fp64_contents.extend([5.1, 3.5, 1.4, 0.3] * rows)
            stub.ModelInfer(request, metadata=[("x-api-key", key)], timeout=30)
        request.inputs[0].shape[:] = [1, 3]
        with pytest.raises(grpc.RpcError):
            stub.ModelInfer(request, metadata=[("x-api-key", key)], timeout=30)


def _send_traffic(service: str, key: str, models: dict) -> None:
    headers = {"X-API-Key": key}
    for name in OWN_MODELS:
        rows = request_rows(models[name])
        for _ in range(3):  # enough rows in the hour for drift figures (alerts.drift_min_rows)
            answer = requests.post(f"{service}/api/v1/models/{name}/predict", headers=headers,
                                   json={"instances": rows}, timeout=30)
            assert answer.status_code == 200, answer.text
        _send_labels(service, headers, name, models[name], answer.json()["predictions"])
    rows = load_iris().data[np.random.default_rng(5).choice(150, 300)].round(2).tolist()
    for version in ("v1", "v2"):
        answer = requests.post(f"{service}/api/v1/models/{version}/predict", headers=headers,
                               json={"instances": rows}, timeout=10)
        assert answer.status_code == 200, answer.text
    for row in rows[:40]:
        params = dict(zip(("sl", "sw", "pl", "pw"), row))
        assert requests.get(f"{service}/api/v1/classify", params=params, headers=headers, timeout=5).status_code == 200
    assert requests.get(f"{service}/api/v1/classify", params={"sl": "x"}, headers=headers, timeout=5).status_code == 400


def _send_labels(service: str, headers: dict, name: str, item: dict, predictions: list[dict]) -> None:
    """The true targets of the held-out rows, for the quality row."""
    field = "value" if "value" in predictions[0] else "label"
    truth = item["test"][item["target"]].tolist()
    feedback = [{"id": p["prediction_id"], field: float(t) if field == "value" else str(t)}
                for p, t in zip(predictions, truth)]
    answer = requests.post(f"{service}/api/v1/models/{name}/feedback", headers=headers,
                           json={"feedback": feedback}, timeout=30)
    assert answer.status_code == 200 and {r["outcome"] for r in answer.json()["results"]} == {"accepted"}, answer.text


def _resolve_variables(prometheus: str, board: dict) -> dict[str, str]:
    """Each variable's value as Grafana would substitute it: one value, or (a|b) for multi/All."""
    values: dict[str, str] = {}
    for variable in board["templating"]["list"]:
        selector, label = LABEL_VALUES.match(_substitute(variable["query"], values)).groups()
        found = requests.get(f"{prometheus}/api/v1/series", params={"match[]": selector}, timeout=10).json()["data"]
        options = sorted({series[label] for series in found if label in series})
        assert options, f"{board['title']}: variable {variable['name']} has no values ({selector})"
        values[variable["name"]] = f"({'|'.join(options)})" if variable["multi"] else options[0]
    return values


def _substitute(expr: str, values: dict[str, str]) -> str:
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), m.group(0)), expr)


@pytest.fixture
def live_stack(state_dir, keys, models, tmp_path):
    config = make_config(state_dir)
    register_all(config, models, OWN_MODELS)
    Registry(config.paths.registry_dir, config.model.name).set_deployment(Deployment("v1", "v2", 0.5))
    _performance_baseline(state_dir, "v1")
    kube_api = FakeApiServer()
    exporter_env = {
        "KUBECONFIG": str(kube_api.kubeconfig(tmp_path / "kubeconfig")),
        "MODELWATCH_EXPORTER__KUBERNETES_NAMESPACES": "modelwatch",
        "MODELWATCH_EXPORTER__COLLECTORS": "baseline,host,process,kubernetes",
    }
    try:
        grpc_port = free_port()
        with serve(state_dir, workers=2, grpc_port=grpc_port) as (service, _), \
                run_exporter(state_dir, ("kube_horizontalpodautoscaler_spec_max_replicas{", 'model_name="penguins"'),
                             exporter_env) as (exporter, _):
            prom_config = make_config(
                state_dir, SERVICE__PORT=service.rsplit(":", 1)[1], EXPORTER__PORT=exporter.rsplit(":", 1)[1],
                PROMETHEUS__SCRAPE_INTERVAL_SECONDS=1, PROMETHEUS__EVALUATION_INTERVAL_SECONDS=1,
            )
            _rules_for_a_fast_test(prom_config, tmp_path / "rules")
            with run_prometheus(prom_config, tmp_path, rule_dir=tmp_path / "rules") as prometheus:
                # 1 s scrapes with a 1 s timeout: on a busy machine the first ones may time out.
                wait_for(prometheus, 'model_input_feature_bucket_total{model_version="v2"}', lambda r: len(r) > 0,
                         timeout=120)
                # Both targets scraped: a slow first exporter scrape (1 s timeout here) must not empty a variable.
                wait_for(prometheus, "kube_horizontalpodautoscaler_spec_max_replicas", lambda r: len(r) > 0, timeout=120)
                _send_traffic(service, keys["user"], models)
                _send_grpc_calls(grpc_port, keys["user"])
                yield prometheus
    finally:
        kube_api.server.shutdown()


def test_every_panel_query_returns_data(live_stack):
    prometheus = live_stack
    pending: dict[tuple[str, str, str], str] = {}
    for board in dashboard_files(Config()).values():
        values = _resolve_variables(prometheus, board)
        if "model" in values:  # every model's series are on the boards that choose a model
            assert {"iris", *OWN_MODELS} <= set(values["model"].strip("()").split("|")), board["title"]
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                expr = _substitute(target["expr"], values)
                query(prometheus, expr)  # valid PromQL now, or the query error
                pending[(board["title"], panel["title"], target["refId"])] = expr
    deadline = time.monotonic() + 150  # the hour-long drift windows count a burst within a minute
    while pending and time.monotonic() < deadline:
        for key, expr in list(pending.items()):
            if query(prometheus, expr):
                del pending[key]
        time.sleep(1)
    assert not pending, "panels whose query returns nothing:\n" + "\n".join(
        f"  {board} / {panel} ({ref}): {expr}" for (board, panel, ref), expr in pending.items())
