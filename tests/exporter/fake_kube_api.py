"""A stand-in for the Kubernetes API server: answers list calls with recorded
objects (tests/exporter/fixtures/kubernetes), a page at a time as the API server
does (``limit`` and ``continue``), can go down, and can lack metrics-server.
There is no real API server on these machines."""

from __future__ import annotations

import json
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
        self.lists: dict[str, dict] = {}  # path -> a list document served instead of the recorded file
        self.expired_tokens = False  # answer a continue token with 410 Gone, as after a compaction
        self.server = json_server(self._answer, query=True)

    def _answer(self, path: str, parameters: dict) -> tuple[int, bytes]:
        self.requests.append(path)
        if self.stalled:
            self._closed.wait()
        name = ROUTES.get(path)
        if self.down:
            return 503, b'{"kind":"Status","code":503,"message":"unavailable"}'
        if (name is None and path not in self.lists) or (not self.metrics_server and "metrics.k8s.io" in path):
            return 404, b'{"kind":"Status","code":404,"reason":"NotFound"}'
        if "continue" in parameters and self.expired_tokens:
            return 410, b'{"kind":"Status","code":410,"reason":"Expired","message":"continue token too old"}'
        document = self.lists.get(path) or json.loads((FIXTURES / name).read_bytes())
        return 200, json.dumps(_page(document, int(parameters.get("limit") or 0),
                                     int(parameters.get("continue") or 0))).encode()

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


def _page(document: dict, limit: int, start: int) -> dict:
    """One page of a list, the rest named by a continue token (here an offset; opaque to clients)."""
    items = document.get("items") or []
    if not limit:
        return document
    end = start + limit
    metadata = dict(document.get("metadata") or {}, **({"continue": str(end)} if end < len(items) else {}))
    return dict(document, items=items[start:end], metadata=metadata)
