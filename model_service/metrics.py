"""Every series the model service exposes (see docs/metrics.md).

Metrics are built by ``ServiceMetrics(registry)`` rather than at import, so
tests and several apps in one process get their own registry. Under gunicorn
(multiprocess mode) pass ``registry=None``: values go to the shared mmap files
and ``/metrics`` merges them (model_service.multiprocess).

Hot-path methods cache their labelled children (a ``labels()`` lookup costs
more than the increment itself) and go through a write-behind buffer
(model_service.metric_buffer); call ``flush()`` before reading values.
"""

from __future__ import annotations

import time
from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from model_service.metric_buffer import MetricBuffer

# OpenTelemetry's advised buckets, with 1 ms and 2.5 ms in front: an Iris
# prediction takes well under a millisecond, and a latency SLO needs a bucket
# boundary near its threshold.
HTTP_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
INFERENCE_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.1)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)
CONFIDENCE_BUCKETS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"))
AUTH_FAILURE_REASONS = ("missing", "unknown", "forbidden")
RELOAD_FAILURE_REASONS = ("missing", "checksum", "unreadable", "mismatch")
MODEL = ("model_name", "model_version")


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry | None, flush_interval: float = 0.1):
        r = {"registry": registry}
        self.buffer = MetricBuffer(flush_interval)
        self.http_duration = Histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests.",
            ["http_route", "http_request_method", "http_response_status_code"],
            buckets=HTTP_DURATION_BUCKETS,
            **r,
        )
        self.http_active = Gauge(
            "http_server_active_requests",
            "Number of HTTP server requests in flight.",
            ["http_request_method"],
            multiprocess_mode="livesum",
            **r,
        )
        self.predictions = Counter(
            "model_predictions_total", "Rows predicted, by outcome (success or error).", [*MODEL, "outcome"], **r
        )
        self.inference = Histogram(
            "model_inference_duration_seconds",
            "Time spent evaluating the model for one request, excluding HTTP handling.",
            MODEL,
            buckets=INFERENCE_BUCKETS,
            **r,
        )
        self.batch_size = Histogram(
            "model_batch_size", "Rows per prediction request.", MODEL, buckets=BATCH_SIZE_BUCKETS, **r
        )
        self.predicted_class = Counter(
            "model_predicted_class_total", "Predicted rows by class.", [*MODEL, "class"], **r
        )
        self.confidence = Histogram(
            "model_prediction_confidence",
            "Probability of the predicted class.",
            MODEL,
            buckets=CONFIDENCE_BUCKETS,
            **r,
        )
        self.feature_bucket = Counter(
            "model_input_feature_bucket_total",
            "Input values by feature and data-baseline bucket (00: below the training range, last: above it).",
            [*MODEL, "feature", "bucket"],
            **r,
        )
        self.info = Gauge(
            "model_info",
            "Loaded model versions (1: loaded, 0: no longer loaded) with their sha256, role and algorithm.",
            [*MODEL, "role", "sha256", "algorithm", "created"],
            multiprocess_mode="livemax",
            **r,
        )
        self.load_duration = Gauge(
            "model_load_duration_seconds",
            "Time taken to load and verify a model version.",
            MODEL,
            multiprocess_mode="livemax",
            **r,
        )
        self.last_reload = Gauge(
            "model_last_reload_success_timestamp_seconds",
            "When the deployed versions were last loaded successfully (Unix time).",
            ["model_name"],
            multiprocess_mode="livemax",
            **r,
        )
        self.reload_failures = Counter(
            "model_reload_failures_total",
            "Rejected loads of a model version, by reason (missing, checksum, unreadable, mismatch).",
            ["model_name", "reason"],
            **r,
        )
        self.auth_failures = Counter(
            "model_auth_failures_total", "Rejected API requests, by reason (missing, unknown, forbidden).", ["reason"], **r
        )
        self.client_requests = Counter(
            "model_client_requests_total", "Authenticated API requests by client name and route.", ["client", "http_route"], **r
        )
        self._http_children: dict = {}
        self._active_children: dict = {}
        self._model_children: dict = {}
        self._client_children: dict = {}
        for reason in AUTH_FAILURE_REASONS:
            self.auth_failures.labels(reason)

    def flush(self) -> None:
        self.buffer.flush()

    # -- HTTP (called by model_service.http_metrics) --------------------------------------
    def _active_child(self, method: str):
        child = self._active_children.get(method)
        if child is None:
            child = self._active_children[method] = self.http_active.labels(method)
        return child

    def request_started(self, method: str) -> None:
        child = self._active_child(method)
        with self.buffer.lock:
            self.buffer.shift(child, 1)

    def request_finished(self, route: str, method: str, status: str, seconds: float) -> None:
        key = (route, method, status)
        child = self._http_children.get(key)
        if child is None:
            child = self._http_children[key] = self.http_duration.labels(route, method, status)
        active = self._active_child(method)
        with self.buffer.lock:
            self.buffer.shift(active, -1)
            self.buffer.observe(child, seconds)

    # -- model ------------------------------------------------------------------------
    def model_loaded(self, model, role: str) -> None:
        """Initialise every per-version series at zero, so rates and drift work from the start."""
        labels = (model.name, model.version)
        meta = model.metadata
        self.info.labels(*labels, role, meta["sha256"]["model.joblib"], meta["algorithm"], meta["created"]).set(1)
        self.load_duration.labels(*labels).set(model.load_seconds)
        feature_children = []
        for name, edges in zip(model.feature_names, model.bucket_edges):
            feature_children.append(
                [self.feature_bucket.labels(*labels, name, f"{i:02d}") for i in range(len(edges) + 1)]
            )
        self._model_children[labels] = (
            self.predictions.labels(*labels, "success"),
            self.inference.labels(*labels),
            self.batch_size.labels(*labels),
            self.confidence.labels(*labels),
            {c: self.predicted_class.labels(*labels, c) for c in model.predictor.classes},
            feature_children,
        )
        self.predictions.labels(*labels, "error")

    def model_unloaded(self, model, role: str) -> None:
        meta = model.metadata
        self.info.labels(
            model.name, model.version, role, meta["sha256"]["model.joblib"], meta["algorithm"], meta["created"]
        ).set(0)

    def model_registered(self, model_name: str) -> None:
        """Start the reload-failure series at zero, so an alert sees the first increase."""
        for reason in RELOAD_FAILURE_REASONS:
            self.reload_failures.labels(model_name, reason)

    def reload_succeeded(self, model_name: str) -> None:
        self.last_reload.labels(model_name).set(time.time())

    def reload_failed(self, model_name: str, reason: str) -> None:
        self.reload_failures.labels(model_name, reason).inc()

    def observe_prediction(
        self,
        model,
        seconds: float,
        classes: Iterable[str],
        confidences: Iterable[float],
        buckets: list[list[int]],
    ) -> None:
        """One request's predictions: ``buckets[f]`` holds feature f's bucket index per row."""
        predictions, inference, batch_size, confidence, by_class, features = self._model_children[
            (model.name, model.version)
        ]
        buffer = self.buffer
        with buffer.lock:
            rows = 0
            for label in classes:
                buffer.add(by_class[label])
                rows += 1
            for value in confidences:
                buffer.observe(confidence, value)
            for children, indexes in zip(features, buckets):
                for index in indexes:
                    buffer.add(children[index])
            buffer.add(predictions, rows)
            buffer.observe(inference, seconds)
            buffer.observe(batch_size, rows)

    def prediction_failed(self, model, rows: int) -> None:
        self.predictions.labels(model.name, model.version, "error").inc(rows)

    # -- access -------------------------------------------------------------------------
    def auth_failed(self, reason: str) -> None:
        self.auth_failures.labels(reason).inc()

    def client_request(self, client: str, route: str) -> None:
        key = (client, route)
        child = self._client_children.get(key)
        if child is None:
            child = self._client_children[key] = self.client_requests.labels(client, route)
        with self.buffer.lock:
            self.buffer.add(child)
