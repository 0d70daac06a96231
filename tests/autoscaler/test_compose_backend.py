"""The autoscaler's compose backend with the real Docker engine: containers
labelled as a compose service are copied to scale up and the newest stopped
to scale down."""

from __future__ import annotations

import uuid

import pytest

from modelwatch.autoscaler.backends import ComposeContainers
from modelwatch.core.errors import ModelwatchError
from tests.exporter.docker_engine import IMAGE

pytestmark = pytest.mark.integration


@pytest.fixture
def compose_service(docker_engine):
    client = docker_engine.client
    project = f"mwtest{uuid.uuid4().hex[:6]}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "model-service",
              "com.docker.compose.container-number": "1", "keep": "me"}
    first = client.containers.run(IMAGE, ["sleep", "600"], detach=True, network_mode="none", labels=labels,
                                  environment={"MODELWATCH_SERVICE__PORT": "8000"}, name=f"{project}-model-service-1")
    yield client, project, first
    for container in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
        container.remove(force=True)


def test_scale_up_copies_a_replica_and_scale_down_stops_the_newest(compose_service):
    client, project, first = compose_service
    backend = ComposeContainers(client, project, "model-service", stop_timeout=1)
    assert [r.name for r in backend.replicas()] == [first.name]
    backend.scale_to(3)
    replicas = backend.replicas()
    assert len(replicas) == 3 and replicas[0].name == first.name
    for replica in replicas[1:]:
        container = client.containers.get(replica.name)
        assert container.labels["keep"] == "me" and container.attrs["Config"]["Cmd"] == ["sleep", "600"]
        assert "MODELWATCH_SERVICE__PORT=8000" in container.attrs["Config"]["Env"]
    numbers = sorted(int(client.containers.get(r.name).labels["com.docker.compose.container-number"]) for r in replicas)
    assert numbers == [1, 2, 3]
    backend.scale_to(1)
    assert [r.name for r in backend.replicas()] == [first.name]  # the oldest stays


def test_a_missing_service_is_a_one_line_error(docker_engine):
    backend = ComposeContainers(docker_engine.client, f"nothing{uuid.uuid4().hex[:6]}", "model-service")
    with pytest.raises(ModelwatchError, match="no running container of compose service"):
        backend.replicas()
