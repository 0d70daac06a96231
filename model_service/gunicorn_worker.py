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

Each request is also entered in the worker's request ledger from the moment its
connection is queued for a thread until its answer is sent, so the master can
count the requests a killed worker took with it (``request_ledger``).
"""

from __future__ import annotations

import os
from pathlib import Path

from gunicorn.workers.gthread import ThreadWorker

from modelwatch.model_service import request_ledger
from modelwatch.model_service.metrics import KNOWN_METHODS
from modelwatch.model_service.multiprocess import ENV_VAR


class RecyclingThreadWorker(ThreadWorker):
    # Set from the configuration by gunicorn_conf before the workers fork.
    requests_per_connection = 100

    def init_process(self):
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
