"""Canary weights, blue/green switches and reloads that must not disturb serving."""

from __future__ import annotations

import itertools

import pytest
from prometheus_client import CollectorRegistry

from modelwatch.model_service.app import create_app
from modelwatch.models.registry import Deployment, Registry
from modelwatch.model_service.serving import ModelServer

QUERY = "sl=5.1&sw=3.5&pl=1.4&pw=0.3"


def served_versions(client, key, n):
    return [client.get(f"/api/v1/classify?{QUERY}", headers={"X-API-Key": key}).get_json()["model_version"] for _ in range(n)]


def sample(registry: CollectorRegistry, name: str, **labels) -> float:
    from modelwatch.model_service.metric_buffer import flush_all

    flush_all()
    return registry.get_sample_value(name, labels) or 0.0


def test_canary_weight_splits_traffic(config, keys):
    Registry(config.paths.registry_dir, "iris").set_deployment(Deployment("v1", "v2", 0.25))
    # A deterministic draw sequence: exactly one in four below the weight.
    draws = itertools.cycle([0.1, 0.5, 0.7, 0.9])
    client = create_app(config, watch=False, rng=lambda: next(draws)).test_client()
    versions = served_versions(client, keys["user"], 400)
    assert versions.count("v2") == 100 and versions.count("v1") == 300


def test_canary_weight_with_real_randomness(config, keys):
    Registry(config.paths.registry_dir, "iris").set_deployment(Deployment("v1", "v2", 0.1))
    client = create_app(config, watch=False).test_client()
    share = served_versions(client, keys["user"], 2000).count("v2") / 2000
    assert 0.07 < share < 0.13  # binomial sd ~0.0067: this fails about once in 10^5 runs


def test_models_endpoint_shows_roles_and_weights(config, keys):
    Registry(config.paths.registry_dir, "iris").set_deployment(Deployment("v1", "v2", 0.1))
    client = create_app(config, watch=False).test_client()
    models = client.get("/api/v1/models", headers={"X-API-Key": keys["user"]}).get_json()["models"]
    iris = next(m for m in models if m["name"] == "iris")
    assert {(v["version"], v["role"], v["weight"]) for v in iris["versions"]} == {("v1", "stable", 0.9),
                                                                               ("v2", "canary", 0.1)}


def test_pinned_version_routes(config, keys):
    Registry(config.paths.registry_dir, "iris").set_deployment(Deployment("v1", "v2", 0.5))
    client = create_app(config, watch=False).test_client()
    for version in ("v1", "v2"):
        body = client.post(f"/api/v1/models/{version}/predict", json={"instances": [[5.1, 3.5, 1.4, 0.3]]},
                           headers={"X-API-Key": keys["user"]}).get_json()
        assert body["model_version"] == version


def test_blue_green_switch_is_atomic(app, client, keys):
    admin = {"X-API-Key": keys["admin"]}
    assert set(served_versions(client, keys["user"], 20)) == {"v1"}
    response = client.put("/api/v1/admin/deployment", json={"stable": "v2"}, headers=admin)
    assert response.status_code == 200
    assert response.get_json()["deployment"] == {"stable": "v2", "canary": None, "canary_weight": 0.0}
    assert set(served_versions(client, keys["user"], 20)) == {"v2"}
    registry = app.extensions["test_registry"]
    assert sample(registry, "model_info", model_name="iris", model_version="v2", role="stable",
                  sha256=app.extensions["modelwatch"]["server"].state.models["v2"].metadata["sha256"]["model.skops"],
                  algorithm="LogisticRegression",
                  created=app.extensions["modelwatch"]["server"].state.models["v2"].metadata["created"]) == 1


def test_invalid_deployments_are_rejected(client, keys):
    admin = {"X-API-Key": keys["admin"]}
    for body, status in [({"stable": "v9"}, 409), ({"stable": "v1", "canary": "v2", "canary_weight": 1.5}, 400),
                         ({"stable": "v1", "canary_weight": 0.2}, 400), ({"stable": 3}, 400), ({"stabel": "v1"}, 400)]:
        response = client.put("/api/v1/admin/deployment", json=body, headers=admin)
        assert response.status_code == status, body
    assert set(served_versions(client, keys["user"], 5)) == {"v1"}


def corrupt(path):
    path.write_bytes(path.read_bytes()[:-10] + b"corrupted!")


def test_corrupt_artifact_rejected_current_keeps_serving(app, client, keys, config):
    corrupt(config.paths.registry_dir / "iris" / "v2" / "model.skops")
    response = client.put("/api/v1/admin/deployment", json={"stable": "v2"}, headers={"X-API-Key": keys["admin"]})
    assert response.status_code == 409
    assert "checksum" in response.get_json()["error"]["message"]
    assert set(served_versions(client, keys["user"], 10)) == {"v1"}
    assert Registry(config.paths.registry_dir, "iris").deployment().stable == "v1"  # not written
    registry = app.extensions["test_registry"]
    assert sample(registry, "model_reload_failures_total", model_name="iris", reason="checksum") == 1


def test_reload_of_a_corrupted_running_version_keeps_the_loaded_one(app, client, keys, config):
    corrupt(config.paths.registry_dir / "iris" / "v1" / "model.skops")
    response = client.post("/api/v1/admin/reload", headers={"X-API-Key": keys["admin"]})
    assert response.status_code == 409
    assert set(served_versions(client, keys["user"], 10)) == {"v1"}
    assert sample(app.extensions["test_registry"], "model_reload_failures_total", model_name="iris", reason="checksum") == 1


def test_artifact_that_answers_differently_is_rejected(config):
    """Same checksums (recomputed) but another model: the recorded probe answers catch it."""
    import json

    import skops.io
    from sklearn.dummy import DummyClassifier

    from modelwatch.model_service.tabular import load_version
    from modelwatch.models.registry import ModelLoadError, sha256_of
    from modelwatch.model_service.training import TARGET, load_dataset

    folder = config.paths.registry_dir / "iris" / "v2"
    data = load_dataset()
    constant = DummyClassifier(strategy="constant", constant="Iris virginica")
    skops.io.dump(constant.fit(data.drop(columns=[TARGET]), data[TARGET]), folder / "model.skops")
    meta = json.loads((folder / "metadata.json").read_text())
    meta["sha256"]["model.skops"] = sha256_of(folder / "model.skops")
    (folder / "metadata.json").write_text(json.dumps(meta))
    registry = Registry(config.paths.registry_dir, "iris")
    registry.sign(folder)  # signed by whoever holds the key: only the probe rows can tell
    with pytest.raises(ModelLoadError) as caught:
        load_version(registry, "v2", "fast")
    assert caught.value.reason == "mismatch"


def test_watcher_follows_deployment_file(config, keys):
    import time

    client_app = create_app(config, watch=False)
    server: ModelServer = client_app.extensions["modelwatch"]["server"]
    server.watch(0.05)
    try:
        Registry(config.paths.registry_dir, "iris").set_deployment(Deployment("v2"))
        deadline = time.monotonic() + 5
        while server.state.deployment.stable != "v2" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.state.deployment.stable == "v2"
    finally:
        server.stop()


def test_service_without_any_model_is_not_ready(tmp_path, keys):
    from tests.conftest import make_config

    client = create_app(make_config(tmp_path / "empty"), watch=False).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503 and "modelwatch train" in response.get_json()["reason"]
    assert str(tmp_path) not in response.get_data(as_text=True)  # open to anyone: no paths
    assert client.get(f"/api/v1/classify?{QUERY}", headers={"X-API-Key": keys["user"]}).status_code in (401, 503)


def test_a_new_versions_series_exist_before_requests_can_reach_it(config):
    from modelwatch.model_service.metrics import ServiceMetrics

    metrics = ServiceMetrics(CollectorRegistry())
    server = ModelServer(Registry(config.paths.registry_dir, "iris"), "fast", metrics)
    server.reload()
    reachable_while_set_up = {}
    set_up = metrics.model_loaded

    def spy(model, role):
        reachable_while_set_up[model.version] = model.version in (server.state.models if server.state else {})
        set_up(model, role)

    metrics.model_loaded = spy
    server.deploy(Deployment("v1", "v2", 0.5))
    assert reachable_while_set_up == {"v1": True, "v2": False}  # v2 in the state only once its series exist


def test_a_watcher_retries_a_failed_reload_counts_it_once_and_survives_any_error(config, monkeypatch):
    import time

    from modelwatch.model_service.metrics import ServiceMetrics

    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)
    server = ModelServer(Registry(config.paths.registry_dir, "iris"), "fast", metrics)
    server.reload()
    artifact = config.paths.registry_dir / "iris" / "v2" / "model.skops"
    hidden = artifact.with_name("hidden")
    artifact.rename(hidden)
    server.watch(0.02)
    try:
        Registry(config.paths.registry_dir, "iris").set_deployment(Deployment("v2"))
        time.sleep(0.3)  # many polls, each retrying
        assert server.behind and server.state.deployment.stable == "v1"
        metrics.flush()
        failures = sum(registry.get_sample_value("model_reload_failures_total", {"model_name": "iris", "reason": r}) or 0
                       for r in ("missing", "checksum", "unreadable", "mismatch"))
        assert failures == 1
        assert registry.get_sample_value("model_deployment_current", {"model_name": "iris"}) == 0
        # Something no reload expects (a folder that cannot be listed, say): the watcher logs it and goes on.
        monkeypatch.setattr(server, "_watched", lambda: (_ for _ in ()).throw(PermissionError("denied")))
        time.sleep(0.1)
        monkeypatch.undo()
        hidden.rename(artifact)
        deadline = time.monotonic() + 5
        while server.state.deployment.stable != "v2" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.state.deployment.stable == "v2" and not server.behind
        assert registry.get_sample_value("model_deployment_current", {"model_name": "iris"}) == 1
    finally:
        server.stop()
