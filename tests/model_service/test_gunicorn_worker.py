"""The gunicorn worker's own behaviour, against real gunicorn: connections it
closes linger on its event loop (not in a blocking read), and the models'
objects are frozen out of the garbage collector after each load."""

from __future__ import annotations

import signal
import socket
import time

import pytest
import requests

from tests.model_service.served import serve, worker_pids
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
QUERY = "sl=5.1&sw=3.5&pl=1.4&pw=0.3"


def request_bytes(key: str, close: bool) -> bytes:
    connection = "close" if close else "keep-alive"
    return (f"GET /api/v1/classify?{QUERY} HTTP/1.1\r\nHost: t\r\nX-API-Key: {key}\r\n"
            f"Connection: {connection}\r\n\r\n").encode()


def read_response(sock: socket.socket) -> bytes:
    """One whole response (the service always sends Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def timed_request(sock: socket.socket, key: str) -> float:
    started = time.monotonic()
    sock.sendall(request_bytes(key, close=False))
    assert read_response(sock).startswith(b"HTTP/1.1 200")
    return time.monotonic() - started


def test_a_client_that_never_closes_does_not_stall_the_workers_other_connections(state_dir, keys):
    # One worker, so the kept-alive connection and the closing one share its event loop.
    with serve(state_dir, workers=1) as (base, _):
        port = int(base.rsplit(":", 1)[1])
        kept = socket.create_connection(("127.0.0.1", port), timeout=10)
        timed_request(kept, keys["user"])  # now waiting on the worker's event loop for its next request
        slow = []
        for _ in range(3):
            closing = socket.create_connection(("127.0.0.1", port), timeout=10)
            closing.sendall(request_bytes(keys["user"], close=True))
            assert read_response(closing).startswith(b"HTTP/1.1 200")
            # The client keeps its side open: gunicorn's own close would now wait for it in a blocking read.
            slow.append(timed_request(kept, keys["user"]))
            assert closing.recv(1) == b""  # the worker has sent its FIN all the same
            closing.close()
        kept.close()
    # Gunicorn's close held every other connection for up to 2 s; a loaded machine answers in far less.
    assert max(slow) < 1.0, f"kept-alive requests took {[round(s, 3) for s in slow]} s behind a lingering close"


def test_lingering_connections_are_closed_and_not_leaked(state_dir, keys):
    with serve(state_dir, workers=1) as (base, _):
        port = int(base.rsplit(":", 1)[1])
        # More connections than gunicorn's worker_connections (1000): a close that never
        # gave its slot back would leave the worker refusing to accept before the end.
        session_free = [requests.get(f"{base}/api/v1/classify?{QUERY}", timeout=10,
                                     headers={"X-API-Key": keys["user"], "Connection": "close"}).status_code
                        for _ in range(1100)]
        assert set(session_free) == {200}
        # A client that never closes is closed for it after the linger time (2 s).
        held = socket.create_connection(("127.0.0.1", port), timeout=10)
        held.sendall(request_bytes(keys["user"], close=True))
        read_response(held)
        assert held.recv(1) == b""  # FIN
        time.sleep(3)
        held.sendall(b"x")  # to a socket the worker has closed: answered with a reset
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            for _ in range(50):
                held.sendall(b"x")
                time.sleep(0.05)
        held.close()


def test_each_worker_freezes_its_heap_after_loading_and_again_after_a_reload(state_dir, keys):
    with serve(state_dir, workers=2) as (_, process):
        log = state_dir / "serve.log"

        def settled() -> list[str]:
            return [line for line in log.read_text().splitlines() if "heap settled" in line]

        workers = worker_pids(process.pid)
        wait_until(lambda: {pid for pid in workers if any(f"[{pid}]" in line for line in settled())} == workers,
                   20, lambda: f"not every worker settled its heap: {settled()}")
        before = len(settled())
        process.send_signal(signal.SIGHUP)  # reload the models in every worker
        wait_until(lambda: len(settled()) >= before + 2, 20, lambda: f"no settle after the reload: {settled()}")
        frozen = int(settled()[-1].split("heap settled: ")[1].split()[0])
        assert frozen > 10_000  # the loaded libraries and models, not a handful of objects


def test_freeze_heap_off_leaves_the_collector_alone(state_dir, keys):
    with serve(state_dir, workers=1, freeze_heap="false") as (base, _):
        assert requests.get(f"{base}/api/v1/classify?{QUERY}", headers={"X-API-Key": keys["user"]}, timeout=10).ok
        assert "heap settled" not in (state_dir / "serve.log").read_text()

