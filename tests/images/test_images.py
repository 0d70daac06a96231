"""The images, built for real the way CI can (a debootstrap base, a wheelhouse
from the host, no registry) and run with the real Docker engine on the host
network: the service answers and serves /metrics; the exporter's Docker
collector reports the service container by name."""

from __future__ import annotations

import os
import re
import subprocess
import uuid

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelwatch.model_service.keys import KeyStore
from modelwatch.core.secret_keys import load_or_create_key
from modelwatch.model_service.prediction_ids import PredictionIds
from tests.conftest import IMAGE_TAG as TAG
from tests.conftest import IMAGE_NAMES, ROOT, VENDOR_LABEL, built_images, make_config
from tests.model_service.served import free_port
from tests.own_models import register_all, request_rows
from tests.waiting import wait_until, wait_until_ok

pytestmark = pytest.mark.integration
RELEASE_TAG = "test-release"  # the next release, as the canary and blue-green overlays run it


def test_a_build_leaves_no_untagged_stage_images(modelwatch_images):
    # The legacy builder keeps each stage as an untagged image (about 1.3 GB a
    # build); left behind, repeated builds fill a shared disk.
    label, value = VENDOR_LABEL.split("=")
    assert modelwatch_images.images.get(f"modelwatch/exporter:{TAG}").labels[label] == value
    assert modelwatch_images.images.list(filters={"dangling": True, "label": VENDOR_LABEL}) == []


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_images_run_as_non_root_with_a_healthcheck_and_no_compiler(modelwatch_images, name):
    image = modelwatch_images.images.get(f"{name}:{TAG}")
    assert image.attrs["Config"]["User"] == "10001:10001"
    assert image.attrs["Config"]["Healthcheck"]["Test"][0] == "CMD"
    output = modelwatch_images.containers.run(image, entrypoint=["sh", "-c", "command -v gcc cc g++ make || echo none"],
                                   network_mode="none", remove=True)
    assert output.decode().strip() == "none"


@pytest.mark.parametrize(("name", "carries"), [
    ("modelwatch/model-service", ["flask", "sklearn", "onnxruntime"]),
    ("modelwatch/exporter", ["docker", "kubernetes"]),
])
def test_each_image_carries_only_its_own_extra(modelwatch_images, name, carries):
    probe = "import importlib.util as u; print(' '.join(m for m in %r if u.find_spec(m)))" % (
        ("flask", "sklearn", "onnxruntime", "docker", "kubernetes", "locust", "matplotlib", "pip"),)
    output = modelwatch_images.containers.run(f"{name}:{TAG}", entrypoint=["python3", "-c", probe],
                                              network_mode="none", remove=True)
    assert output.decode().split() == carries


def run_service(client, tag: str, port: int, keys, deployment_file=None, mounts: dict | None = None,
                grpc_port: int = 0):
    """The service image on the host's network; gRPC off unless given a port (two at once would share 8001)."""
    volumes = {str(keys): {"bind": "/var/lib/modelwatch/keys.json", "mode": "ro"}}
    if deployment_file is not None:  # as the canary overlay's ConfigMap is mounted
        volumes[str(deployment_file)] = {"bind": "/var/lib/modelwatch/models/iris/deployment.json", "mode": "ro"}
    volumes.update({str(source): {"bind": target, "mode": "ro"} for source, target in (mounts or {}).items()})
    return client.containers.run(
        f"modelwatch/model-service:{tag}", name=f"mw-service-{uuid.uuid4().hex[:6]}", detach=True, network_mode="host",
        environment={"MODELWATCH_SERVICE__HOST": "127.0.0.1", "MODELWATCH_SERVICE__PORT": str(port),
                     "MODELWATCH_SERVICE__GRPC_PORT": str(grpc_port)}, volumes=volumes)


def test_the_service_answers_and_the_exporter_sees_its_container(modelwatch_images, tmp_path):
    keys = tmp_path / "keys.json"
    key = KeyStore(keys).add("alice")
    keys.chmod(0o644)
    service_port, exporter_port, grpc_port = free_port(), free_port(), free_port()
    service = run_service(modelwatch_images, TAG, service_port, keys, grpc_port=grpc_port)
    socket_group = os.stat("/var/run/docker.sock").st_gid
    exporter = modelwatch_images.containers.run(
        f"modelwatch/exporter:{TAG}", detach=True, network_mode="host", group_add=[socket_group],
        environment={"MODELWATCH_EXPORTER__HOST": "127.0.0.1", "MODELWATCH_EXPORTER__PORT": str(exporter_port),
                     "MODELWATCH_EXPORTER__COLLECTORS": "baseline,docker",
                     "MODELWATCH_EXPORTER__CGROUP_ROOT": "/host/sys/fs/cgroup", "MODELWATCH_EXPORTER__PROC_ROOT": "/host/proc"},
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "ro"},
                 "/sys/fs/cgroup": {"bind": "/host/sys/fs/cgroup", "mode": "ro"}, "/proc": {"bind": "/host/proc", "mode": "ro"}},
    )
    try:
        base = f"http://127.0.0.1:{service_port}"
        wait_until_ok(f"{base}/readyz", timeout=60)
        answer = requests.get(f"{base}/api/v1/classify", params={"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.2},
                              headers={"X-API-Key": key}, timeout=5)
        assert answer.status_code == 200 and answer.json()["species"] == "Iris setosa"
        assert "model_predictions_total{" in requests.get(f"{base}/metrics", timeout=5).text
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:  # the image serves gRPC too
            live = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert live.status == health_pb2.HealthCheckResponse.SERVING
        # its usage, read from the host's cgroups through the mounts compose gives the exporter too
        def reads_its_cpu() -> bool:  # (the exposition sorts labels: id is not first)
            text = wait_until_ok(f"http://127.0.0.1:{exporter_port}/metrics").text
            return any(line.startswith("container_cpu_usage_seconds_total{") and f'id="/docker/{service.id}"' in line
                       for line in text.splitlines())

        wait_until(reads_its_cpu, 30, lambda: "the exporter never reported the service container's CPU")
        # The exporter publishes the baked-in model's data baseline too.
        assert 'modelwatch_baseline_rows{model_name="iris",model_version="v1"}' in requests.get(
            f"http://127.0.0.1:{exporter_port}/metrics", timeout=5).text
    finally:
        service.remove(force=True)
        exporter.remove(force=True)


def test_a_release_image_serves_the_canary_the_k8s_overlay_configures(modelwatch_images, tmp_path):
    with built_images(modelwatch_images, RELEASE_TAG, model_versions="v1 v2"):
        serve_the_canary_and_the_green_release(modelwatch_images, tmp_path)


def serve_the_canary_and_the_green_release(client, tmp_path):
    keys = tmp_path / "keys.json"
    key = KeyStore(keys).add("alice")
    keys.chmod(0o644)
    deployment_file = ROOT / "k8s/overlays/canary/canary-deployment/deployment.json"
    canary_port, release_port = free_port(), free_port()
    canary = run_service(client, RELEASE_TAG, canary_port, keys, deployment_file)
    release = run_service(client, RELEASE_TAG, release_port, keys)  # blue-green's green: no deployment.json
    try:
        for port, stable, served in ((canary_port, "v1", "v2"), (release_port, "v2", "v2")):
            base = f"http://127.0.0.1:{port}"
            wait_until_ok(f"{base}/readyz", timeout=60)
            answer = requests.get(f"{base}/api/v1/classify", params={"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.2},
                                  headers={"X-API-Key": key}, timeout=5)
            assert answer.status_code == 200 and answer.json()["model_version"] == served
            metrics = requests.get(f"{base}/metrics", timeout=5).text
            assert re.search(rf'model_info{{[^}}]*model_version="{stable}"[^}}]*role="stable"[^}}]*}} 1.0', metrics)
        assert re.search(r'model_info{[^}]*model_version="v2"[^}]*role="canary"[^}]*} 1.0',
                         requests.get(f"http://127.0.0.1:{canary_port}/metrics", timeout=5).text)
    finally:
        canary.remove(force=True)
        release.remove(force=True)


def test_a_model_registered_on_the_host_is_served_from_the_mounted_registry(modelwatch_images, models, tmp_path):
    # As docs/own-model.md says: register on the host, make the registry readable by the
    # container user, give the prediction-id key to that user, mount both read-only.
    config = make_config(tmp_path / "state")
    register_all(config, models, ("penguins",))
    subprocess.run(["chmod", "-R", "a+rX", str(config.paths.registry_dir)], check=True)
    id_key = config.paths.prediction_id_key_file
    load_or_create_key(id_key)
    os.chown(id_key, 10001, 10001)
    keys = tmp_path / "keys.json"
    key = KeyStore(keys).add("alice")
    keys.chmod(0o644)
    port, exporter_port = free_port(), free_port()
    registry = {config.paths.registry_dir: "/var/lib/modelwatch/models"}
    service = run_service(modelwatch_images, TAG, port, keys,
                          mounts={**registry, id_key: "/var/lib/modelwatch/secrets/prediction-id.key"})
    exporter = modelwatch_images.containers.run(
        f"modelwatch/exporter:{TAG}", detach=True, network_mode="host",
        environment={"MODELWATCH_EXPORTER__HOST": "127.0.0.1", "MODELWATCH_EXPORTER__PORT": str(exporter_port),
                     "MODELWATCH_EXPORTER__COLLECTORS": "baseline"},
        volumes={str(config.paths.registry_dir): {"bind": "/var/lib/modelwatch/models", "mode": "ro"}})
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_ok(f"{base}/readyz", timeout=90)
        answer = requests.post(f"{base}/api/v1/models/penguins/predict", headers={"X-API-Key": key},
                               json={"instances": request_rows(models["penguins"])[:5]}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert {p["class"] for p in answer.json()["predictions"]} <= {"Adelie", "Chinstrap", "Gentoo"}
        issued = answer.json()["predictions"][0]["prediction_id"]
        assert PredictionIds(load_or_create_key(id_key)).read(issued).model == "penguins"  # signed with the mounted key
        label = {"feedback": [{"id": issued, "label": "Adelie"}]}  # recorded in the image's writable feedback folder
        labelled = requests.post(f"{base}/api/v1/models/penguins/feedback", headers={"X-API-Key": key}, json=label,
                                 timeout=10)
        assert labelled.status_code == 200 and labelled.json()["accepted"] == 1, labelled.text
        assert re.search(r'^model_input_feature_bucket_total{[^}]*feature="island"[^}]*model_name="penguins"',
                         requests.get(f"{base}/metrics", timeout=5).text, re.M)
        assert "cannot keep the prediction-id key" not in service.logs().decode()
        wait_until(lambda: 'modelwatch_baseline_rows{model_name="penguins",model_version="v1"}' in wait_until_ok(
            f"http://127.0.0.1:{exporter_port}/metrics").text, 60, lambda: "no penguins baseline from the exporter")
    finally:
        service.remove(force=True)
        exporter.remove(force=True)
