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
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class RecyclingThreadWorker(ThreadWorker):
    # Set from the configuration by gunicorn_conf before the workers fork.
    requests_per_connection = 100

    def handle_request(self, req, conn):
        served = getattr(conn, "modelwatch_served", 0) + 1
        conn.modelwatch_served = served
        if served >= self.requests_per_connection:
            req.must_close = True  # this response says "Connection: close", then the worker closes it
        return super().handle_request(req, conn)
