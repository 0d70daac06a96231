"""The query client against answers a real Prometheus never gives but a proxy or a broken one might."""

from __future__ import annotations

import json
import math

import pytest

from modelwatch.core.prometheus_api import PrometheusApi, PrometheusUnavailable
from tests.exporter.json_http import json_server


def vector(*values: str) -> dict:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"replica": str(i)}, "value": [1700000000.0, v]} for i, v in enumerate(values)]}}


@pytest.fixture
def answering():
    servers = []

    def start(status: int, body) -> PrometheusApi:
        text = body if isinstance(body, bytes) else json.dumps(body).encode()
        server = json_server(lambda path: (status, text))
        servers.append(server)
        return PrometheusApi(f"http://127.0.0.1:{server.server_address[1]}", timeout=5)

    yield start
    for server in servers:
        server.shutdown()


def test_a_vector_is_parsed_with_prometheus_special_values_kept(answering):
    samples = answering(200, vector("1.5", "NaN", "+Inf")).query("up")
    assert samples[0].value == 1.5 and samples[0].labels == {"replica": "0"}
    assert math.isnan(samples[1].value) and samples[2].value == math.inf


@pytest.mark.parametrize("status, body, says", [
    (200, b"[]", "refused"),
    (200, b"<html>502 Bad Gateway</html>", "did not answer"),
    (500, {"status": "error", "error": "internal"}, "internal"),
    (200, {"status": "success", "data": {"resultType": "scalar", "result": [1700000000.0, "7"]}}, "a scalar"),
    (200, {"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "1"]}]}}, "unexpected"),
    (200, {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]}},
     "unexpected"),
    (200, {"status": "success", "data": None}, "unexpected"),
    (200, {"status": "success"}, "unexpected"),
])
def test_any_other_answer_is_prometheus_unavailable_with_a_reason(answering, status, body, says):
    with pytest.raises(PrometheusUnavailable, match=says):
        answering(status, body).query("up")


def test_a_range_query_wants_a_matrix(answering):
    with pytest.raises(PrometheusUnavailable, match="a vector, not a matrix"):
        answering(200, vector("1")).query_range("up", 0, 60, 15)
