"""gunicorn's threaded worker, with kept-alive connections recycled.

Replicas of the local service are workers sharing one listening socket: the
kernel hands each *new* connection to one of them, and a kept-alive
connection stays with that worker for good. A client that keeps its
connections open (Locust's FastHttpUser, most HTTP client pools) would never
reach a worker the autoscaler adds. So every connection is closed, politely
(``Connection: close`` on a complete response), after
``service.keepalive_max_requests`` requests — nginx's ``keepalive_requests``,
Envoy's ``max_requests_per_connection`` — and the client's reconnection lands
on whichever worker accepts it, new ones included. Scaling down needs nothing
extra: gunicorn (27+) answers requests arriving on a stopping worker's
kept-alive connections with ``Connection: close``, and finishes in-flight ones.

A connection the worker closes (recycled, or the client said ``Connection:
close``, as HAProxy does for every request) is half-closed and then lingers on
the worker's event loop until the client closes its side, as nginx's
``lingering_close`` does. gunicorn drains it on the event loop's own thread, in
a blocking ``recv`` of up to 2 s: a client that never closes its side stalled
every other connection of the worker, accepts included, for those 2 s.

Each request is also entered in the worker's request ledger from the moment its
connection is queued for a thread until its answer is sent, so the master can
count the requests a killed worker took with it (``request_ledger``).
"""

from __future__ import annotations

import collections
import os
import selectors
import socket
import time
from functools import partial
from pathlib import Path

from gunicorn.workers.gthread import ThreadWorker

from modelwatch.model_service import heap, request_ledger
from modelwatch.model_service.metrics import KNOWN_METHODS
from modelwatch.model_service.multiprocess import ENV_VAR


# As gunicorn's own graceful close: how long and how much to read from a client before closing anyway.
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 65536


class RecyclingThreadWorker(ThreadWorker):
    # Set from the configuration by gunicorn_conf before the workers fork.
    requests_per_connection = 100
    freeze_heap = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lingering = collections.deque()  # half-closed connections, oldest (first to expire) first

    def init_process(self):
        heap.enabled = self.freeze_heap  # before the app loads its models
        if os.environ.get(ENV_VAR):  # multiprocess metrics: the master reads the ledger beside them
            request_ledger.current = request_ledger.RequestLedger(Path(os.environ[ENV_VAR]))
        super().init_process()

    def enqueue_req(self, conn):
        if request_ledger.current is not None:
            request_ledger.current.queued()  # the main thread: a connection with a request to read
        super().enqueue_req(conn)

    def handle(self, conn):
        ledger = request_ledger.current
        if ledger is None:
            return super().handle(conn)
        ledger.started()
        try:
            return super().handle(conn)  # one request: parsed, answered and sent
        finally:
            ledger.finished()

    def handle_request(self, req, conn):
        served = getattr(conn, "modelwatch_served", 0) + 1
        conn.modelwatch_served = served
        if served >= self.requests_per_connection:
            req.must_close = True  # this response says "Connection: close", then the worker closes it
        if request_ledger.current is not None:
            request_ledger.current.request(req.method if req.method in KNOWN_METHODS else "_OTHER")
        return super().handle_request(req, conn)

    def finish_request(self, conn, fs):
        if fs.cancelled() or fs.exception() is not None or fs.result():
            return super().finish_request(conn, fs)  # kept alive, deferred, or failed: gunicorn's way
        self._linger(conn)

    def _linger(self, conn):
        """Send FIN now; close once the client has closed too (or after LINGER_SECONDS), without waiting here.

        Closing with the client's data unread would send a RST, which can destroy the answer it has
        not read yet; so the rest of its data is read and dropped first, as gunicorn does."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._drain, conn))
        except (OSError, ValueError):
            self._close(conn)
            return
        conn.timeout = time.monotonic() + LINGER_SECONDS
        conn.drained = 0
        self.lingering.append(conn)

    def _drain(self, conn, _sock):
        try:
            while conn.drained < LINGER_MAX_BYTES:
                data = conn.sock.recv(4096)
                if not data:
                    break  # the client closed its side
                conn.drained += len(data)
        except BlockingIOError:
            return  # more to come: wait for the next event
        except OSError:
            pass
        self.lingering.remove(conn)
        self._unregister_and_close(conn)

    def _unregister_and_close(self, conn):
        try:
            self.poller.unregister(conn.sock)
        except (OSError, KeyError, ValueError):
            pass
        self._close(conn)

    def _close(self, conn):
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        # Called on every turn of gunicorn's event loop, stopping included: close lingering connections that expired.
        super().murder_pending()
        now = time.monotonic()
        while self.lingering and self.lingering[0].timeout <= now:
            self._unregister_and_close(self.lingering.popleft())
