"""F19: the exporter's and the autoscaler's access to the Docker engine.

compose/docker-socket-proxy.cfg run by real HAProxy (Debian's; compose runs the haproxy
image) in front of the real engine: the exporter's collector and the autoscaler's compose
backend do their work through their own sockets, and every call that would let either
escalate is answered 403 — a create from the exporter above all.
"""

from __future__ import annotations

import subprocess
import uuid

import docker
import pytest

from modelwatch.autoscaler.backends import ComposeContainers
from modelwatch.exporter.collectors.docker import DockerCollector
from tests.conftest import ROOT, require_binary
from tests.exporter.docker_engine import IMAGE
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

SERVICE_IMAGE = "modelwatch/model-service:socket-proxy-test"  # the test image under the name the proxy allows


@pytest.fixture
def proxy(docker_engine, tmp_path):
    """(exporter client, autoscaler client, engine client) with the proxy between the first two and the engine."""
    config = (ROOT / "compose" / "docker-socket-proxy.cfg").read_text().replace("/run/docker-proxy/", f"{tmp_path}/")
    (tmp_path / "proxy.cfg").write_text(config)
    for user in ("exporter", "autoscaler"):  # the volumes compose mounts there
        (tmp_path / user).mkdir()
    haproxy = subprocess.Popen([require_binary("haproxy"), "-db", "-f", str(tmp_path / "proxy.cfg")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = docker_engine.client
    engine.images.get(IMAGE).tag(SERVICE_IMAGE)
    try:
        sockets = [tmp_path / user / "docker.sock" for user in ("exporter", "autoscaler")]
        wait_until(lambda: all(socket.exists() for socket in sockets), 30, lambda: "the proxy's sockets did not appear")
        yield (docker.DockerClient(base_url=f"unix://{sockets[0]}", timeout=30),
               docker.DockerClient(base_url=f"unix://{sockets[1]}", timeout=30), engine)
    finally:
        haproxy.terminate()
        haproxy.wait(30)
        engine.images.remove(SERVICE_IMAGE)


def status_of(call) -> int:
    try:
        call()
    except docker.errors.APIError as exc:
        return exc.status_code
    return 200


def test_f19_each_gets_what_it_needs_through_its_socket_and_nothing_that_escalates(proxy, report):
    exporter, autoscaler, engine = proxy
    project = f"mwtest{uuid.uuid4().hex[:6]}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "model-service",
              "com.docker.compose.container-number": "1"}
    first = engine.containers.run(SERVICE_IMAGE, ["sleep", "600"], detach=True, network_mode="none", labels=labels,
                                  name=f"{project}-model-service-1", cap_drop=["ALL"], mem_limit="64m",
                                  security_opt=["no-new-privileges:true"], read_only=True)
    try:
        # What each needs works.
        collector = DockerCollector(f"com.docker.compose.project={project}", connect=lambda: exporter)
        seen = {s.labels["name"] for f in collector.collect() for s in f.samples if f.name == "container_last_seen"}
        backend = ComposeContainers(autoscaler, project, "model-service", stop_timeout=1)
        backend.scale_to(2)
        scaled_up = len(backend.replicas())
        copy = engine.containers.get(backend.replicas()[-1].name).attrs["HostConfig"]
        confined = (copy["CapDrop"], copy["SecurityOpt"], copy["Memory"], copy["ReadonlyRootfs"])
        backend.scale_to(1)
        scaled_down = len(backend.replicas())
        # What would escalate is refused.
        run = dict(command=["true"], network_mode="none")
        refused = {
            "exporter: create": status_of(lambda: exporter.containers.create(IMAGE, **run)),
            "exporter: exec": status_of(lambda: exporter.api.exec_create(first.id, ["sh"])),
            "exporter: remove": status_of(lambda: exporter.api.remove_container(first.id, force=True)),
            "exporter: stop": status_of(lambda: exporter.api.stop(first.id)),
            "autoscaler: create another image": status_of(lambda: autoscaler.containers.create(IMAGE, **run)),
            "autoscaler: privileged": status_of(
                lambda: autoscaler.containers.create(SERVICE_IMAGE, privileged=True, **run)),
            "autoscaler: capability": status_of(
                lambda: autoscaler.containers.create(SERVICE_IMAGE, cap_add=["SYS_ADMIN"], **run)),
            "autoscaler: host root": status_of(
                lambda: autoscaler.containers.create(SERVICE_IMAGE, volumes=["/:/host"], **run)),
            "autoscaler: engine socket": status_of(lambda: autoscaler.containers.create(
                SERVICE_IMAGE, volumes=["/var/run/docker.sock:/s"], **run)),
            "autoscaler: host pid": status_of(lambda: autoscaler.containers.create(SERVICE_IMAGE, pid_mode="host", **run)),
            "autoscaler: no seccomp": status_of(lambda: autoscaler.containers.create(
                SERVICE_IMAGE, security_opt=["seccomp=unconfined"], **run)),
            "autoscaler: exec": status_of(lambda: autoscaler.api.exec_create(first.id, ["sh"])),
            "autoscaler: pull": status_of(lambda: autoscaler.api.pull("busybox", tag="latest")),
        }
    finally:
        for container in engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
            container.remove(force=True)
    leftovers = [c.name for c in engine.containers.list(all=True) if c.attrs["Config"]["Image"] == SERVICE_IMAGE]
    report("F19", exporter_create_status=refused["exporter: create"], exporter_sees_containers=first.name in seen,
           autoscaler_scaled_to=[scaled_up, scaled_down],
           refused=sum(status == 403 for status in refused.values()), escalations_tried=len(refused))
    assert first.name in seen and (scaled_up, scaled_down) == (2, 1)
    assert confined == (["ALL"], ["no-new-privileges:true"], 64 * 2**20, True)  # a copy is confined as the original
    assert refused == {call: 403 for call in refused}
    assert leftovers == []
