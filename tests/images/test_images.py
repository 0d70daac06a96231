"""The images, built for real the way CI can (a debootstrap base, a wheelhouse
from the host, no registry) and run with the real Docker engine on the host
network: the service answers and serves /metrics; the exporter's Docker
collector reports the service container by name."""

from __future__ import annotations

import os
import re
import uuid

import pytest
import requests

from modelwatch.model_service.keys import KeyStore
from tests.conftest import IMAGE_TAG as TAG
from tests.conftest import IMAGE_NAMES, ROOT, VENDOR_LABEL, built_images
from tests.model_service.served import free_port
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


def run_service(client, tag: str, port: int, keys, deployment_file=None):
    volumes = {str(keys): {"bind": "/var/lib/modelwatch/keys.json", "mode": "ro"}}
    if deployment_file is not None:  # as the canary overlay's ConfigMap is mounted
        volumes[str(deployment_file)] = {"bind": "/var/lib/modelwatch/models/iris/deployment.json", "mode": "ro"}
    return client.containers.run(
        f"modelwatch/model-service:{tag}", name=f"mw-service-{uuid.uuid4().hex[:6]}", detach=True, network_mode="host",
        environment={"MODELWATCH_SERVICE__HOST": "127.0.0.1", "MODELWATCH_SERVICE__PORT": str(port)}, volumes=volumes)


def test_the_service_answers_and_the_exporter_sees_its_container(modelwatch_images, tmp_path):
    keys = tmp_path / "keys.json"
    key = KeyStore(keys).add("alice")
    keys.chmod(0o644)
    service_port, exporter_port = free_port(), free_port()
    service = run_service(modelwatch_images, TAG, service_port, keys)
    service_name = service.name
    socket_group = os.stat("/var/run/docker.sock").st_gid
    exporter = modelwatch_images.containers.run(
        f"modelwatch/exporter:{TAG}", detach=True, network_mode="host", group_add=[socket_group],
        environment={"MODELWATCH_EXPORTER__HOST": "127.0.0.1", "MODELWATCH_EXPORTER__PORT": str(exporter_port),
                     "MODELWATCH_EXPORTER__COLLECTORS": "baseline,docker"},
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "ro"}},
    )
    try:
        base = f"http://127.0.0.1:{service_port}"
        wait_until_ok(f"{base}/readyz", timeout=60)
        answer = requests.get(f"{base}/api/v1/classify", params={"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.2},
                              headers={"X-API-Key": key}, timeout=5)
        assert answer.status_code == 200 and answer.json()["species"] == "Iris setosa"
        assert "model_predictions_total{" in requests.get(f"{base}/metrics", timeout=5).text
        wait_until(lambda: f'name="{service_name}"' in wait_until_ok(f"http://127.0.0.1:{exporter_port}/metrics").text,
                   30, lambda: "the exporter never reported the service container")
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
