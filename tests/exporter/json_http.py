"""A loopback HTTP server answering GETs with JSON, for stand-in backends in tests."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit


def json_server(answer: Callable[..., tuple[int, bytes]], query: bool = False) -> ThreadingHTTPServer:
    """Serve ``answer(path) -> (status, JSON body)`` on 127.0.0.1 from a daemon thread;
    with ``query``, ``answer(path, parameters)`` (each parameter's first value)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            parameters = {key: values[0] for key, values in parse_qs(url.query).items()}
            status, body = answer(url.path, parameters) if query else answer(url.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass  # keep test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
