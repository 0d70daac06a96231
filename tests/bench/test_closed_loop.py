"""The drained load: every request the server handled is one the load counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import closed_loop
from tests.bench.conftest import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]


def test_the_load_ends_drained_with_every_handled_request_counted():
    # requests far longer than wrk's would leave in flight: all of them must be answered and counted
    server = LoopbackServer(delay=0.05)
    try:
        result = closed_loop.run(server.url, b'{"instances": [[1]]}', seconds=0.6, connections=8)
        handled_at_return = server.handled
        time.sleep(0.2)
        assert server.handled == handled_at_return == result["requests"]  # nothing left in flight
        assert result["requests"] >= 8
        assert result["non_2xx"] == 0 and result["socket_errors"] == ""
        assert 50 <= result["p50_ms"] <= result["p99_ms"]
        assert server.bodies == {b'{"instances": [[1]]}'}
    finally:
        server.close()


def test_answers_that_are_not_2xx_are_counted_and_closed_connections_reopened():
    server = LoopbackServer(delay=0.0, status=400, close_every=3)
    try:
        result = closed_loop.run(server.url, b"{}", seconds=0.3, connections=2)
        assert result["requests"] == server.handled > 6
        assert result["non_2xx"] == result["requests"]
        assert result["socket_errors"] == ""
    finally:
        server.close()


def test_a_server_that_is_down_is_a_clear_error_not_a_figure():
    server = LoopbackServer(delay=0.0)
    url = server.url
    server.close()
    with pytest.raises(RuntimeError, match="no request .* was answered"):
        closed_loop.run(url, b"{}", seconds=0.2, connections=2)


def test_the_command_prints_one_json_object(tmp_path):
    server = LoopbackServer(delay=0.0)
    body = tmp_path / "body.json"
    body.write_text('{"instances": []}')
    try:
        out = subprocess.run([sys.executable, "-m", "bench.closed_loop", server.url, "--body", str(body),
                              "--seconds", "0.2", "--connections", "2"],
                             capture_output=True, text=True, check=True, cwd=ROOT, timeout=60).stdout
        result = json.loads(out)
        assert result["requests"] == server.handled > 0
        assert set(result) >= {"rps", "requests", "p50_ms", "p99_ms", "non_2xx", "socket_errors"}
    finally:
        server.close()


def test_the_url_can_stay_off_the_command_line(tmp_path):
    server = LoopbackServer(delay=0.0)
    body = tmp_path / "body.json"
    body.write_text("{}")
    command = [sys.executable, "-m", "bench.closed_loop", "--body", str(body), "--seconds", "0.2", "--connections", "1"]
    try:
        env = {**os.environ, closed_loop.URL_VARIABLE: server.url}
        out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT, env=env, timeout=60).stdout
        assert json.loads(out)["requests"] == server.handled > 0
    finally:
        server.close()
    env = {k: v for k, v in os.environ.items() if k != closed_loop.URL_VARIABLE}
    missing = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert missing.returncode == 2 and closed_loop.URL_VARIABLE in missing.stderr.splitlines()[-1]


def test_an_unreadable_body_or_a_silent_server_is_one_line_without_the_key(tmp_path):
    server = LoopbackServer(delay=0.0)
    url = server.url.replace("key=k", "key=mw_secret")
    server.close()
    body = tmp_path / "body.json"
    body.write_text("{}")
    for argv in ([url, "--body", str(tmp_path / "missing.json")], [url, "--body", str(body), "--seconds", "0.2"]):
        done = subprocess.run([sys.executable, "-m", "bench.closed_loop", *argv], capture_output=True, text=True,
                              cwd=ROOT, timeout=60)
        assert done.returncode == 1 and done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("closed_loop: ")
        assert "mw_secret" not in done.stderr
