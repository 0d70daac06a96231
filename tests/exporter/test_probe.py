"""The probe against a real service, a wrong key, a dead port and a lying server."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from modelwatch.exporter.collectors.probe import ProbeCollector
from modelwatch.models.registry import Registry
from tests.exporter.json_http import json_server
from tests.model_service.served import free_port, serve
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def probe(config, url, key) -> tuple[ProbeCollector, CollectorRegistry]:
    collector = ProbeCollector(url, key, Registry(config.paths.registry_dir, "iris"), 3600, 2, background=False)
    collector.probe = lambda: collector.probe_once()["iris"]  # the default model's result
    registry = CollectorRegistry()
    registry.register(collector)
    return collector, registry


def test_real_service_answers_correctly_and_a_bad_key_is_an_http_error(config, keys, state_dir):
    with serve(state_dir) as (base, _):
        collector, registry = probe(config, base, keys["user"])
        assert [collector.probe() for _ in range(5)] == ["success"] * 5
        assert registry.get_sample_value("modelwatch_probe_answer_correct", {"target": base, "model_name": "iris"}) == 1
        assert registry.get_sample_value("modelwatch_probe_duration_seconds", {"target": base, "model_name": "iris"}) < 2
        assert registry.get_sample_value("modelwatch_probe_requests_total", {"target": base, "model_name": "iris", "result": "success"}) == 5
        bad, bad_registry = probe(config, base, "mw_000000000000_" + "x" * 32)
        assert bad.probe() == "http_error"
        assert bad_registry.get_sample_value("modelwatch_probe_success", {"target": base, "model_name": "iris"}) == 0


def test_nothing_listening_is_a_connection_error(config):
    url = f"http://127.0.0.1:{free_port()}"
    collector, registry = probe(config, url, "k")
    assert collector.probe() == "connection_error"
    assert registry.get_sample_value("modelwatch_probe_requests_total", {"target": url, "model_name": "iris", "result": "connection_error"}) == 1


def test_a_wrong_answer_is_caught(config):
    lie = json.dumps({"species": "Iris nonsense", "model_version": "v1"}).encode()
    server = json_server(lambda path: (200, lie))
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        collector, registry = probe(config, url, "k")
        assert collector.probe() == "wrong_answer"
        assert registry.get_sample_value("modelwatch_probe_success", {"target": url, "model_name": "iris"}) == 1
        assert registry.get_sample_value("modelwatch_probe_answer_correct", {"target": url, "model_name": "iris"}) == 0
    finally:
        server.shutdown()


def test_a_registry_it_cannot_read_fails_the_probe_instead_of_keeping_the_last_result(config, keys, state_dir):
    with serve(state_dir) as (base, _):
        collector, registry = probe(config, base, keys["user"])
        assert collector.probe() == "success"
        deployment = config.paths.registry_dir / "iris" / "deployment.json"
        deployment.write_text("{not json")  # a broken deployment file: no inputs to send
        assert collector.probe() == "registry_error"
        assert registry.get_sample_value("modelwatch_probe_success", {"target": base, "model_name": "iris"}) == 0
        assert registry.get_sample_value("modelwatch_probe_requests_total", {"target": base, "model_name": "iris", "result": "registry_error"}) == 1
        deployment.write_text('{"stable": "v1"}')
        assert collector.probe() == "success"
        assert registry.get_sample_value("modelwatch_probe_success", {"target": base, "model_name": "iris"}) == 1


def test_the_background_loop_survives_an_unexpected_failure(config, monkeypatch):
    collector = ProbeCollector("http://127.0.0.1:1", "k", Registry(config.paths.registry_dir, "iris"), 0.05, 1)
    calls = []

    def broken():
        calls.append(1)
        raise RuntimeError("a bug")

    monkeypatch.setattr(collector, "probe_model", lambda name: broken())
    registry = CollectorRegistry()
    registry.register(collector)
    registry.get_sample_value("modelwatch_probe_success", {"target": "http://127.0.0.1:1", "model_name": "iris"})  # a scrape starts the loop
    wait_until(lambda: len(calls) >= 3, 10, lambda: f"the loop stopped after {len(calls)} calls")
    assert registry.get_sample_value("modelwatch_probe_success", {"target": "http://127.0.0.1:1", "model_name": "iris"}) == 0
    assert registry.get_sample_value("modelwatch_probe_requests_total",
                                     {"target": "http://127.0.0.1:1", "model_name": "iris", "result": "probe_error"}) >= 3


def test_every_registered_model_is_probed_with_its_recorded_rows(config, keys, state_dir, models):
    from modelwatch.model_service.registration import Request, register
    from tests.own_models import trusted_types

    for name in ("penguins", "diabetes"):
        item = models[name]
        register(config, Request(name, item["artifact"], item["reference"], item["target"],
                                 trusted_types=trusted_types(item)))
    with serve(state_dir) as (base, _):
        collector, registry = probe(config, base, keys["user"])
        for _ in range(3):
            assert collector.probe_once() == {"iris": "success", "penguins": "success", "diabetes": "success"}
        assert registry.get_sample_value("modelwatch_probe_answer_correct", {"target": base, "model_name": "diabetes"}) == 1
        # A version whose recorded answers no longer match what the service says: a wrong answer.
        metadata_file = config.paths.registry_dir / "diabetes" / "v1" / "metadata.json"
        metadata = json.loads(metadata_file.read_text())
        metadata["probe"]["values"] = [v + 1 for v in metadata["probe"]["values"]]
        metadata_file.write_text(json.dumps(metadata))
        assert collector.probe_model("diabetes") == "wrong_answer"
        assert registry.get_sample_value("modelwatch_probe_answer_correct", {"target": base, "model_name": "diabetes"}) == 0


def test_the_probe_asks_over_grpc_as_a_grpc_client_would(config, keys, state_dir, models):
    """exporter.probe_url grpc://host:port: ModelInfer for every registered model (a category among them),
    an error status (a bad key) as grpc_error, nothing listening as connection_error."""
    from modelwatch.model_service.registration import Request, register
    from tests.own_models import trusted_types

    item = models["penguins"]
    register(config, Request("penguins", item["artifact"], item["reference"], item["target"],
                             trusted_types=trusted_types(item)))
    grpc_port = free_port()
    with serve(state_dir, grpc_port=grpc_port):
        url = f"grpc://127.0.0.1:{grpc_port}"
        collector, registry = probe(config, url, keys["user"])
        for _ in range(3):
            assert collector.probe_once() == {"iris": "success", "penguins": "success"}
        assert registry.get_sample_value("modelwatch_probe_answer_correct", {"target": url, "model_name": "penguins"}) == 1
        bad, _ = probe(config, url, "mw_000000000000_" + "x" * 32)
        assert bad.probe() == "grpc_error"
    nobody = f"grpc://127.0.0.1:{free_port()}"
    assert probe(config, nobody, keys["user"])[0].probe() == "connection_error"
