"""The images, built for real the way CI can (a debootstrap base, a wheelhouse
from the host, no registry) and run with the real Docker engine on the host
network: the service answers and serves /metrics; the exporter's Docker
collector reports the service container by name."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import requests

from model_service.keys import KeyStore
from tests.conftest import IMAGE_TAG as TAG
from tests.model_service.served import free_port
from tests.waiting import wait_until_ok

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", ["modelwatch/model-service", "modelwatch/exporter"])
def test_images_run_as_non_root_with_a_healthcheck_and_no_compiler(modelwatch_images, name):
    image = modelwatch_images.images.get(f"{name}:{TAG}")
    assert image.attrs["Config"]["User"] == "10001:10001"
    assert image.attrs["Config"]["Healthcheck"]["Test"][0] == "CMD"
    output = modelwatch_images.containers.run(image, entrypoint=["sh", "-c", "command -v gcc cc g++ make || echo none"],
                                   network_mode="none", remove=True)
    assert output.decode().strip() == "none"


def test_the_service_answers_and_the_exporter_sees_its_container(modelwatch_images, tmp_path):
    keys = tmp_path / "keys.json"
    key = KeyStore(keys).add("alice")
    keys.chmod(0o644)
    service_port, exporter_port = free_port(), free_port()
    service_name = f"mw-service-{uuid.uuid4().hex[:6]}"
    service = modelwatch_images.containers.run(
        f"modelwatch/model-service:{TAG}", name=service_name, detach=True, network_mode="host",
        environment={"MODELWATCH_SERVICE__HOST": "127.0.0.1", "MODELWATCH_SERVICE__PORT": str(service_port)},
        volumes={str(keys): {"bind": "/var/lib/modelwatch/keys.json", "mode": "ro"}},
    )
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
        deadline = time.monotonic() + 30
        while f'name="{service_name}"' not in wait_until_ok(f"http://127.0.0.1:{exporter_port}/metrics").text:
            assert time.monotonic() < deadline, "the exporter never reported the service container"
            time.sleep(0.5)
        # The exporter publishes the baked-in model's data baseline too.
        assert 'modelwatch_baseline_rows{model_name="iris",model_version="v1"}' in requests.get(
            f"http://127.0.0.1:{exporter_port}/metrics", timeout=5).text
    finally:
        service.remove(force=True)
        exporter.remove(force=True)
