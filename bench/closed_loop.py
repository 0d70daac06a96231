"""Closed-loop HTTP load that ends drained: every request sent is answered and counted.

    python -m bench.closed_loop [URL] --body FILE [--seconds 6] [--connections 32]

The URL may instead come from ``$MODELWATCH_BENCH_URL``: a URL holding an API
key then stays out of the command line, which every local user can read.

wrk stops at its deadline with a request in flight on every connection. The
server still works through those after wrk has gone, so a window that starts
right after another run pays for that run's last requests, and a window that
ends when wrk exits leaves its own last requests unpaid. With requests of a
millisecond that is noise; with a 1,000-row batch (tens of milliseconds each,
32 connections) it is a fifth of a 6 s window, and it grows with the cost of a
request, so it stretches the gap between two variants. Here each connection
stops sending at the deadline and waits for its answer: the server's CPU from
the start to the last answer belongs to exactly the requests counted. Prints
one JSON object with the keys ``bench.service.parse_wrk`` gives.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

URL_VARIABLE = "MODELWATCH_BENCH_URL"


class _Connection:
    """One keep-alive connection that sends the same POST until the deadline."""

    def __init__(self, url: str, body: bytes):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.body = body
        self.latencies: list[float] = []
        self.non_2xx = 0
        self.errors = 0
        self._http: http.client.HTTPConnection | None = None

    def _send_one(self) -> None:
        if self._http is None:
            self._http = http.client.HTTPConnection(self.host, self.port, timeout=60)
        started = time.perf_counter()
        self._http.request("POST", self.target, self.body, {"Content-Type": "application/json"})
        response = self._http.getresponse()
        response.read()
        self.latencies.append(time.perf_counter() - started)
        if not 200 <= response.status < 300:
            self.non_2xx += 1
        if response.will_close:  # the server recycles connections now and then
            self._http.close()
            self._http = None

    def run(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            try:
                self._send_one()
            except (OSError, http.client.HTTPException):
                self.errors += 1
                if self._http is not None:
                    self._http.close()
                self._http = None


def run(url: str, body: bytes, seconds: float, connections: int) -> dict:
    """Load ``url`` for ``seconds`` from ``connections`` connections; returns once every answer is in."""
    loops = [_Connection(url, body) for _ in range(connections)]
    started = time.perf_counter()
    threads = [threading.Thread(target=loop.run, args=(started + seconds,)) for loop in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(x for loop in loops for x in loop.latencies)
    if not latencies:
        where = urlsplit(url)  # the query may hold an API key: left out of the message
        raise RuntimeError(f"no request to {where.hostname}:{where.port}{where.path} was answered in {seconds:g} s")
    errors = sum(loop.errors for loop in loops)
    return {"rps": len(latencies) / elapsed, "requests": len(latencies),
            "p50_ms": statistics.median(latencies) * 1e3,
            "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1e3,
            "non_2xx": sum(loop.non_2xx for loop in loops),
            "socket_errors": f"{errors} connection errors" if errors else ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.closed_loop", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=os.environ.get(URL_VARIABLE))
    parser.add_argument("--body", type=Path, required=True, help="a file holding the JSON body to POST")
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    if not args.url:
        parser.error(f"give the URL, or set {URL_VARIABLE}")
    try:
        result = run(args.url, args.body.read_bytes(), args.seconds, args.connections)
    except (OSError, RuntimeError) as exc:
        parser.exit(1, f"closed_loop: {exc}\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
