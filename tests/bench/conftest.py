"""A loopback HTTP server for the load tools' tests."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """A loopback server whose answers take ``delay`` seconds; it counts what it handled."""

    def __init__(self, delay: float, status: int = 200, close_every: int = 0):
        self.handled = 0
        self.bodies: set[bytes] = set()
        self.last_body: bytes | None = None
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                with lock:
                    outer.handled += 1
                    outer.bodies.add(body)
                    outer.last_body = body
                    closing = close_every and outer.handled % close_every == 0
                self.send_response(status)
                self.send_header("Content-Length", "2")
                if closing:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"{}")
                if closing:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/predict?key=k"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
