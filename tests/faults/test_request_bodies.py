"""F13 and F14 against real gunicorn: numbers no float holds, and chunked bodies over the limit."""

from __future__ import annotations

import json
import math
import socket
from urllib.parse import urlsplit

import pytest
import requests

from modelwatch.model_service.keys import KeyStore
from tests.model_service.served import serve

pytestmark = pytest.mark.integration

FIELDS = ("sl", "sw", "pl", "pw")
SETOSA = [5.1, 3.5, 1.4, 0.3]
LIMIT = 4096  # service.max_body_bytes for these tests
FORM = "application/x-www-form-urlencoded"


def non_finite_samples(metrics_text: str) -> list[str]:
    """Samples whose value is NaN or infinite (a bucket's le="+Inf" label is fine)."""
    bad = []
    for line in metrics_text.splitlines():
        if line and not line.startswith("#") and not math.isfinite(float(line.rsplit(" ", 1)[-1])):
            bad.append(line)
    return bad


def test_f13_numbers_no_float_holds_get_a_4xx_naming_the_field_and_never_reach_metrics(state_dir, report):
    key = KeyStore(state_dir / "keys.json").add("alice")
    huge = "9" * 400
    bodies = {
        "400-digit integer": '{"instances": [[%s, 3.5, 1.4, 0.3]]}' % huge,
        "5000-digit integer": '{"instances": [[%s, 3.5, 1.4, 0.3]]}' % ("9" * 5000),
        "1e308 everywhere": json.dumps({"instances": [[1e308, 1e308, 1e308, -1e308], SETOSA]}),
        "1e309 (infinite)": '{"instances": [[1e309, 3.5, 1.4, 0.3]]}',
        "NaN literal": '{"instances": [[NaN, 3.5, 1.4, 0.3]]}',
        "-Infinity literal": '{"instances": [[-Infinity, 3.5, 1.4, 0.3]]}',
    }
    statuses = {}
    with serve(state_dir) as (base, _):
        session = requests.Session()
        session.headers["X-API-Key"] = key
        for name, body in bodies.items():
            response = session.post(f"{base}/api/v1/predict", data=body, headers={"Content-Type": "application/json"},
                                    timeout=30)
            statuses[name] = response.status_code
            assert 400 <= response.status_code < 500, (name, response.text)
            assert response.json()["error"]["message"], name
        query = dict(zip(FIELDS, (huge, "3.5", "1.4", "0.3")))
        statuses["400 digits in the query"] = session.get(f"{base}/api/v1/classify", params=query, timeout=30).status_code
        ok = session.post(f"{base}/api/v1/predict", json={"instances": [SETOSA]}, timeout=30)
        metrics = session.get(f"{base}/metrics", timeout=30).text
    bad_samples = non_finite_samples(metrics)
    report("F13", five_xx=sum(s >= 500 for s in statuses.values()), non_finite_metric_samples=len(bad_samples),
           statuses=statuses)
    assert statuses["400 digits in the query"] == 400
    assert ok.status_code == 200 and all(math.isfinite(p) for p in ok.json()["predictions"][0]["probabilities"].values())
    assert bad_samples == []


def chunked_post(base: str, path: str, key: str, body: bytes, chunk: int = 1000,
                 content_type: str = "application/json") -> int:
    """POST ``body`` with Transfer-Encoding: chunked over a raw socket; the status code answered."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        head = (f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\nX-API-Key: {key}\r\nConnection: close\r\n"
                f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n")
        connection.sendall(head.encode())
        try:
            for start in range(0, len(body), chunk):
                piece = body[start:start + chunk]
                connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            connection.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before the whole body is sent
        answer = b""
        while b"\r\n" not in answer:
            data = connection.recv(4096)
            if not data:
                break
            answer += data
    return int(answer.split(b" ", 2)[1])


def test_f14_a_chunked_body_over_the_limit_is_always_a_413(state_dir, report):
    key = KeyStore(state_dir / "keys.json").add("alice")
    row = json.dumps(SETOSA)
    small = ('{"instances": [%s]}' % row).encode()
    over = ('{"instances": [%s]}' % ", ".join([row] * (2 * LIMIT // len(row)))).encode()
    far_over = ('{"instances": [%s]}' % ", ".join([row] * (50 * LIMIT // len(row)))).encode()
    assert len(small) < LIMIT < len(over)
    with serve(state_dir, max_body_bytes=LIMIT, max_batch_size=100_000) as (base, _):
        statuses = {
            "chunked, under": chunked_post(base, "/api/v1/predict", key, small),
            "chunked, 2x over": chunked_post(base, "/api/v1/predict", key, over),
            "chunked, 50x over": chunked_post(base, "/api/v1/predict", key, far_over, chunk=8192),
            "chunked, 2x over, one chunk": chunked_post(base, "/api/v1/predict", key, over, chunk=len(over)),
            "chunked form, under": chunked_post(base, "/api/v1/classify", key, b"sl=5.1&sw=3.5&pl=1.4&pw=0.3",
                                                content_type=FORM),
            "chunked form, 2x over": chunked_post(base, "/api/v1/classify", key, b"sl=5.1&x=" + b"1" * 2 * LIMIT,
                                                  content_type=FORM),
            "declared length, 2x over": requests.post(f"{base}/api/v1/predict", data=over, timeout=30, headers={
                "X-API-Key": key, "Content-Type": "application/json"}).status_code,
        }
        alive = requests.get(f"{base}/healthz", timeout=10).status_code
    report("F14", statuses=statuses)
    assert statuses["chunked, under"] == 200 and statuses["chunked form, under"] == 200
    assert [s for name, s in statuses.items() if "over" in name] == [413] * 5
    assert alive == 200
