"""A stand-in for the Kubernetes API server: answers list calls with recorded
objects (tests/exporter/fixtures/kubernetes), can go down, and can lack
metrics-server. There is no real API server on these machines."""

from __future__ import annotations

import threading
from pathlib import Path

from kubernetes import client

from tests.exporter.json_http import json_server

FIXTURES = Path(__file__).parent / "fixtures" / "kubernetes"
ROUTES = {
    "/apis/apps/v1/namespaces/modelwatch/deployments": "deployments.json",
    "/api/v1/namespaces/modelwatch/pods": "pods.json",
    "/apis/autoscaling/v2/namespaces/modelwatch/horizontalpodautoscalers": "hpas.json",
    "/api/v1/nodes": "nodes.json",
    "/apis/metrics.k8s.io/v1beta1/namespaces/modelwatch/pods": "podmetrics.json",
    "/apis/metrics.k8s.io/v1beta1/nodes": "nodemetrics.json",
}


class FakeApiServer:
    def __init__(self):
        self.down = False
        self.stalled = False  # accept, read the request, never answer (until closed)
        self._closed = threading.Event()
        self.requests: list[str] = []
        self.metrics_server = True
        self.server = json_server(self._answer)

    def _answer(self, path: str) -> tuple[int, bytes]:
        self.requests.append(path)
        if self.stalled:
            self._closed.wait()
        name = ROUTES.get(path)
        if self.down:
            return 503, b'{"kind":"Status","code":503,"message":"unavailable"}'
        if name is None or (not self.metrics_server and "metrics.k8s.io" in path):
            return 404, b'{"kind":"Status","code":404,"reason":"NotFound"}'
        return 200, (FIXTURES / name).read_bytes()

    def close(self) -> None:
        self._closed.set()  # stalled requests end
        self.server.shutdown()

    def connect(self):
        configuration = client.Configuration()
        configuration.host = f"http://127.0.0.1:{self.server.server_port}"
        return client.ApiClient(configuration)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig file pointing at this server."""
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
            f"clusters: [{{name: fake, cluster: {{server: '{self.url}'}}}}]\n"
            "contexts: [{name: fake, context: {cluster: fake, user: fake}}]\n"
            "users: [{name: fake, user: {token: unused}}]\n"
        )
        return path
