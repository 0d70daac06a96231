"""HTTP server metrics as a WSGI middleware (cheaper than Flask request hooks).

The route label is the matched URL rule's template, recorded by
``RouteRecordingFlask``; requests that match no rule (404, 405) share the one
value ``UNMATCHED_ROUTE``, so no label value ever comes from a raw path.
"""

from __future__ import annotations

from time import perf_counter

from flask import Flask
from flask.globals import request_ctx

from modelwatch.model_service import request_ledger
from modelwatch.model_service.metrics import KNOWN_METHODS, ServiceMetrics

ROUTE_KEY = "modelwatch.http_route"
UNMATCHED_ROUTE = "unmatched"


class RouteRecordingFlask(Flask):
    def dispatch_request(self):
        request = request_ctx.request
        if request.url_rule is not None:
            request.environ[ROUTE_KEY] = request.url_rule.rule
            if request_ledger.current is not None:  # under gunicorn: the master labels a lost request by route
                request_ledger.current.routed(request.url_rule.rule)
        return super().dispatch_request()


class HttpMetricsMiddleware:
    def __init__(self, wsgi_app, metrics: ServiceMetrics):
        self.wsgi_app = wsgi_app
        self.metrics = metrics

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "")
        if method not in KNOWN_METHODS:
            method = "_OTHER"
        self.metrics.request_started(method)
        status = "500"

        def recording_start_response(status_line, headers, exc_info=None):
            nonlocal status
            status = status_line[:3]
            return start_response(status_line, headers, exc_info)

        started = perf_counter()
        try:
            return self.wsgi_app(environ, recording_start_response)
        finally:
            self.metrics.request_finished(environ.get(ROUTE_KEY, UNMATCHED_ROUTE), method, status, perf_counter() - started)
