"""Every series the model service exposes (see docs/metrics.md).

Metrics are built by ``ServiceMetrics(registry)`` rather than at import, so
tests and several apps in one process get their own registry. Under gunicorn
(multiprocess mode) pass ``registry=None``: values go to the shared mmap files
and ``/metrics`` merges them (model_service.multiprocess).

Hot-path methods only record events (model_service.metric_buffer); ``flush()``
aggregates them into the series, so call it before reading values.
Labelled children are cached: a ``labels()`` lookup costs more than the update.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from typing import NamedTuple

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from modelwatch.models.baselines import bucket_label
from modelwatch.model_service.feedback import FeedbackTally
from modelwatch.model_service.metric_buffer import (
    EventColumns,
    Flusher,
    LabelIds,
    apply_histogram,
    grouped,
)
from modelwatch.core.series import (ABSOLUTE_ERROR_BUCKETS, BATCH_SIZE_BUCKETS, CONFIDENCE_BUCKETS, FEATURE_SLOT,
                                     RPC_DURATION_BUCKETS_MS, HTTP_DURATION_BUCKETS, INFERENCE_BUCKETS,
                                     LABEL_DELAY_BUCKETS, SIGNED_ERROR_BUCKETS, feature_slots)
from modelwatch.models.registry import ModelLoadError
from modelwatch.model_service.prediction_tally import TallyLayout
from modelwatch.model_service.prometheus_internals import add_observations

log = logging.getLogger(__name__)

KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"))
AUTH_FAILURE_REASONS = ("missing", "unknown", "forbidden")
MODEL = ("model_name", "model_version")


def http_duration_histogram(registry: CollectorRegistry | None) -> Histogram:
    """The HTTP requests histogram: the workers record every request they answer; the
    gunicorn master records, as 500s, the requests a killed worker had in flight."""
    return Histogram(
        "http_server_request_duration_seconds",
        "Duration of HTTP server requests.",
        ["http_route", "http_request_method", "http_response_status_code"],
        buckets=HTTP_DURATION_BUCKETS,
        registry=registry,
    )


def _survives_a_full_disk(method):
    """For the writes outside the flush: on a full metrics filesystem, log and go on (the
    request, reload or boot that made the call must not fail for a metric)."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except OSError as exc:
            log.error("metrics: %s failed (%s)", method.__name__, exc)

    return guarded


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry | None, flush_interval: float = 1.0):
        r = {"registry": registry}
        self._http_ids = LabelIds()  # (route, method, status)
        self._http_events = EventColumns(2)  # label id, seconds
        self._rpc_ids = LabelIds()  # (service, method, status code)
        self._rpc_events = EventColumns(2)  # label id, milliseconds
        self._client_ids = LabelIds()  # (client, route)
        self._client_events = EventColumns(1)  # label id
        # method -> (started, finished) counters; in flight = their difference
        self._in_flight: dict[str, tuple] = {}
        self._flush_lock = threading.Lock()
        self.flusher = Flusher(self.flush, flush_interval)
        self.http_duration = http_duration_histogram(registry)
        self.http_active = Gauge(
            "http_server_active_requests",
            "Number of HTTP server requests in flight.",
            ["http_request_method"],
            multiprocess_mode="livesum",
            **r,
        )
        self.rpc_duration = Histogram(
            "rpc_server_duration_milliseconds",
            "Duration of gRPC server calls (OpenTelemetry's rpc.server.duration).",
            ["rpc_system", "rpc_service", "rpc_method", "rpc_grpc_status_code"],
            buckets=RPC_DURATION_BUCKETS_MS,
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
            "Input values by feature and data-baseline bucket (00: below the training range, last: above it); "
            "the feature's slot places it in a drift rule shard.",
            [*MODEL, "feature", FEATURE_SLOT, "bucket"],
            **r,
        )
        self.feature_missing = Counter(
            "model_input_feature_missing_total", "Input rows in which the feature was missing.",
            [*MODEL, "feature"], **r,
        )
        self.prediction_bucket = Counter(
            "model_prediction_bucket_total",
            "A regressor's predicted values by data-baseline prediction bucket (00: below the reference range).",
            [*MODEL, "bucket"], **r,
        )
        self.info = Gauge(
            "model_info",
            "Loaded model versions (1: loaded, 0: no longer loaded) with their sha256, role and algorithm.",
            [*MODEL, "role", "sha256", "algorithm", "created"],
            multiprocess_mode="livemax",
            **r,
        )
        self.library_mismatch = Gauge(
            "model_library_version_mismatch",
            "1 while a loaded version runs with another version of a library than it was registered with.",
            [*MODEL, "library", "registered", "running"], multiprocess_mode="livemax", **r,
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
        self.deployment_current = Gauge(
            "model_deployment_current",
            "1 while every worker serves the registry's current deployment; 0 while one is behind it (its "
            "reload of a changed deployment keeps failing and is being retried).",
            ["model_name"],
            multiprocess_mode="livemin",
            **r,
        )
        self.reload_failures = Counter(
            "model_reload_failures_total",
            "Rejected loads of a model version, by reason (missing, checksum, unreadable, mismatch).",
            ["model_name", "reason"],
            **r,
        )
        self.keys_reload_failures = Counter(
            "model_keys_reload_failures_total",
            "Times a changed keys file could not be read; the keys read before stay in use.",
            **r,
        )
        self.auth_failures = Counter(
            "model_auth_failures_total", "Rejected API requests, by reason (missing, unknown, forbidden).", ["reason"], **r
        )
        self.client_requests = Counter(
            "model_client_requests_total", "Authenticated API requests by client name and route.", ["client", "http_route"], **r
        )
        # Labels sent later (model_service/feedback.py). Few next to predictions: updated directly.
        self.feedback = Counter(
            "model_feedback_total",
            "Labels received, by outcome: accepted, duplicate (labelled before), unknown_id, expired, invalid "
            "(model_version is empty where the id names none).",
            [*MODEL, "outcome"], **r,
        )
        self.feedback_throttled_requests = Counter(
            "model_feedback_throttled_requests_total",
            "Feedback requests refused whole (429) for the worker's label budget, mostly before their body "
            "was read: their labels are not counted until sent again.",
            ["model_name"], **r,
        )
        self.confusion = Counter(
            "model_confusion_total",
            "A classifier's labelled predictions by predicted and actual class.",
            [*MODEL, "predicted", "actual"], **r,
        )
        self.correct = Counter(
            "model_correct_predictions_total",
            "A classifier's labelled predictions that were right, by class (the confusion matrix's diagonal, "
            "which PromQL cannot pick out by itself).",
            [*MODEL, "class"], **r,
        )
        self.label_delay = Histogram(
            "model_label_delay_seconds", "Time from a prediction to its accepted label.", MODEL,
            buckets=LABEL_DELAY_BUCKETS, **r,
        )
        self.absolute_error = Histogram(
            "model_prediction_absolute_error", "A regressor's |predicted - actual| over its labelled predictions.",
            MODEL, buckets=ABSOLUTE_ERROR_BUCKETS, **r,
        )
        self.signed_error = Histogram(
            "model_prediction_signed_error", "A regressor's predicted - actual (positive: it predicted too high); no _sum, as it has negative buckets.",
            MODEL, buckets=SIGNED_ERROR_BUCKETS, **r,
        )
        self.squared_error = Counter(
            "model_prediction_squared_error_total",
            "Sum of a regressor's squared errors over its labelled predictions (RMSE: with the count).",
            MODEL, **r,
        )
        self._http_children: dict = {}
        self._rpc_children: dict = {}
        self._active_children: dict = {}
        self._model_children: dict = {}
        self._client_children: dict = {}
        for reason in AUTH_FAILURE_REASONS:
            self.auth_failures.labels(reason)

    # -- HTTP (called by model_service.http_metrics) --------------------------------------
    def request_started(self, method: str) -> None:
        counters = self._in_flight.get(method)
        if counters is None:
            counters = self._in_flight.setdefault(method, (itertools.count(), itertools.count()))
        next(counters[0])  # next() on itertools.count is atomic under the GIL: no lock

    def request_finished(self, route: str, method: str, status: str, seconds: float) -> None:
        next(self._in_flight[method][1])
        self._http_events.extend((self._http_ids.id_of((route, method, status)), seconds))

    # -- gRPC (called by model_service.oip_grpc) ----------------------------------------
    def rpc_finished(self, service: str, method: str, code: int, milliseconds: float) -> None:
        self._rpc_events.extend((self._rpc_ids.id_of((service, method, code)), milliseconds))

    # -- model ------------------------------------------------------------------------
    def model_loaded(self, model, role: str) -> None:
        """Start a loaded version's series at zero, so rates and drift work from the start: feature
        buckets by its schema, missing counts, and classes or prediction buckets. On a full metrics
        filesystem the version serves anyway: its events are taken, and each flush tries again."""
        labels = (model.name, model.version)
        known = self._model_children.get(labels)  # a reload keeps the events not yet flushed
        if known:
            events = known.events
        else:
            layout = TallyLayout(len(model.classes) or len(model.output_edges) + 1, CONFIDENCE_BUCKETS,
                                 [len(model.buckets[feature.name].labels) for feature in model.schema.features])
            events = PredictionEvents(EventColumns(2),  # per request: seconds, rows
                                      EventColumns(2 + len(model.schema.features)),  # output, confidence, buckets
                                      EventColumns(layout.width), layout)
        try:
            self._start_series(model, role, events)
        except OSError as exc:
            self._model_children[labels] = PendingSeries(events, model, role)
            log.error("cannot start the series of %s %s (%s); retrying at each flush", model.name, model.version, exc)

    def _start_series(self, model, role: str, events: "PredictionEvents") -> None:
        labels = (model.name, model.version)
        self.info.labels(*_info_labels(model, role)).set(1)
        self.load_duration.labels(*labels).set(model.load_seconds)
        for found in model.library_mismatches:
            self.library_mismatch.labels(*labels, *found).set(1)
        features = []
        slots = feature_slots(model.name, model.buckets, model.slot_offset)  # as the exporter's, from the baseline
        for feature in model.schema.features:
            buckets = [self.feature_bucket.labels(*labels, feature.name, slots[feature.name], b)
                       for b in model.buckets[feature.name].labels]
            features.append((buckets, self.feature_missing.labels(*labels, feature.name)))
        # Quality series at zero too: accuracy and RMSE are ratios of increases, from the first label on.
        for outcome in ("accepted", "duplicate", "expired"):
            self.feedback.labels(*labels, outcome)
        self.feedback_throttled_requests.labels(model.name)
        self.label_delay.labels(*labels)
        if model.classes:
            for predicted in model.classes:
                self.correct.labels(*labels, predicted)
                for actual in model.classes:
                    self.confusion.labels(*labels, predicted, actual)
        else:
            self.absolute_error.labels(*labels), self.signed_error.labels(*labels), self.squared_error.labels(*labels)
        if model.classes:
            outputs = [self.predicted_class.labels(*labels, c) for c in model.classes]
        else:
            outputs = [self.prediction_bucket.labels(*labels, bucket_label(i)) for i in range(len(model.output_edges) + 1)]
        self.predictions.labels(*labels, "error")
        self._model_children[labels] = ModelSeries(
            events, self.predictions.labels(*labels, "success"), self.inference.labels(*labels),
            self.batch_size.labels(*labels), self.confidence.labels(*labels), outputs, features,
        )

    @_survives_a_full_disk
    def model_unloaded(self, model, role: str) -> None:
        self.info.labels(*_info_labels(model, role)).set(0)
        for found in model.library_mismatches:
            self.library_mismatch.labels(model.name, model.version, *found).set(0)

    def observe_prediction(self, model, seconds: float, rows: int, events) -> None:
        """One request of ``rows`` rows: per row the output (class index, or prediction bucket), the
        confidence (NaN for regressors) and each feature's bucket index (negative: missing; see
        ``FeatureBuckets.event``), as a flat list (a few rows: kept for the flusher to count) or an array
        of one line per row (a batch: counted here, see ``prediction_tally``)."""
        recorded = self._model_children[(model.name, model.version)].events
        recorded.requests.extend((seconds, rows))
        if isinstance(events, np.ndarray):
            recorded.tallies.extend_rows(recorded.layout.tally(events))
        else:
            recorded.rows.extend(events)

    @_survives_a_full_disk
    def model_registered(self, model_name: str) -> None:
        """Start the reload-failure series at zero, so an alert sees the first increase."""
        for reason in ModelLoadError.REASONS:
            self.reload_failures.labels(model_name, reason)

    @_survives_a_full_disk
    def reload_succeeded(self, model_name: str) -> None:
        self.last_reload.labels(model_name).set(time.time())
        self.deployment_current.labels(model_name).set(1)

    @_survives_a_full_disk
    def deployment_current_is(self, model_name: str, current: bool) -> None:
        self.deployment_current.labels(model_name).set(1 if current else 0)

    @_survives_a_full_disk
    def reload_failed(self, model_name: str, reason: str) -> None:
        self.reload_failures.labels(model_name, reason).inc()

    @_survives_a_full_disk
    def prediction_failed(self, model, rows: int) -> None:
        self.predictions.labels(model.name, model.version, "error").inc(rows)

    # -- labels sent later ----------------------------------------------------------------
    @_survives_a_full_disk
    def feedback_received(self, model_name: str, tally: FeedbackTally) -> None:
        """A feedback request's tally: one write per touched series (a thousand
        labels would otherwise be four thousand locked writes), histograms in bulk."""
        for (version, outcome), count in tally.outcomes.items():
            self.feedback.labels(model_name, version, outcome).inc(count)
        for version, delays in tally.delays.items():
            apply_histogram(self.label_delay.labels(model_name, version), np.asarray(delays, float))
        for (version, predicted, actual), count in tally.confusion.items():
            self.confusion.labels(model_name, version, predicted, actual).inc(count)
            if predicted == actual:
                self.correct.labels(model_name, version, actual).inc(count)
        for version, errors in tally.errors.items():
            errors = np.asarray(errors, float)
            apply_histogram(self.absolute_error.labels(model_name, version), np.abs(errors))
            apply_histogram(self.signed_error.labels(model_name, version), errors)
            self.squared_error.labels(model_name, version).inc(float(np.square(errors).sum()))

    @_survives_a_full_disk
    def feedback_refused(self, model_name: str, items: int) -> None:
        self.feedback.labels(model_name, "", "invalid").inc(items)

    @_survives_a_full_disk
    def feedback_throttled(self, model_name: str) -> None:
        self.feedback_throttled_requests.labels(model_name).inc()

    # -- access -------------------------------------------------------------------------
    @_survives_a_full_disk
    def keys_reload_failed(self) -> None:
        self.keys_reload_failures.inc()

    @_survives_a_full_disk
    def auth_failed(self, reason: str) -> None:
        self.auth_failures.labels(reason).inc()

    def client_request(self, client: str, route: str) -> None:
        self._client_events.extend((self._client_ids.id_of((client, route)),))

    # -- aggregation --------------------------------------------------------------------
    def flush(self) -> None:
        """Apply the recorded events to the series (one writer at a time)."""
        with self._flush_lock:
            self._flush_http()
            self._flush_predictions()
            for label_id, events in grouped(self._client_events.drain()):
                labels = self._client_ids.labels[label_id]
                self._child(self._client_children, self.client_requests, labels).inc(len(events))

    def _child(self, cache: dict, metric, labels: tuple):
        child = cache.get(labels)
        if child is None:
            child = cache[labels] = metric.labels(*labels)
        return child

    def _flush_http(self) -> None:
        for label_id, events in grouped(self._http_events.drain()):
            labels = self._http_ids.labels[label_id]
            apply_histogram(self._child(self._http_children, self.http_duration, labels), events[:, 1])
        for method, (started, finished) in list(self._in_flight.items()):
            # Reading advances both counters by one, which keeps their difference.
            in_flight = next(started) - next(finished)
            self._child(self._active_children, self.http_active, (method,)).set(max(0, in_flight))
        for label_id, events in grouped(self._rpc_events.drain()):
            service, method, code = self._rpc_ids.labels[label_id]
            apply_histogram(self._child(self._rpc_children, self.rpc_duration, ("grpc", service, method, str(code))),
                            events[:, 1])

    def _flush_predictions(self) -> None:
        for series in list(self._model_children.values()):
            if isinstance(series, PendingSeries):
                try:
                    self._start_series(series.model, series.role, series.events)
                except OSError:
                    series.events.drain()  # still no room: memory must not grow
                    raise
                series = self._model_children[(series.model.name, series.model.version)]
            self._flush_model(series)

    @staticmethod
    def _flush_model(series: "ModelSeries") -> None:
        """Apply a version's per-request events (inference time, batch size) and its tallies: the batches'
        own, and one of the rows single-row requests left."""
        requests, rows, tallies = series.events.drain()
        if len(requests):
            apply_histogram(series.inference, requests[:, 0])
            apply_histogram(series.batch_size, requests[:, 1])
        if not len(rows) and not len(tallies):
            return
        layout = series.events.layout
        total = layout.tally(rows) + tallies.sum(axis=0)
        outputs = total[:layout.outputs].astype(np.int64).tolist()
        series.predictions.inc(sum(outputs))  # every predicted row has one output
        _inc_nonzero(series.outputs, outputs)
        confidences = total[layout.confidence_counts].astype(np.int64)
        if confidences.any():  # a regressor has none
            add_observations(series.confidence, float(total[layout.confidence_sum]), confidences.tolist())
        for (buckets, missing), (counts, missed) in zip(series.features, layout.feature_counts(total)):
            if missed:
                missing.inc(missed)
            _inc_nonzero(buckets, counts)


def _inc_nonzero(children: list, counts: list[int]) -> None:
    for child, count in zip(children, counts):
        if count:
            child.inc(count)


def _info_labels(model, role: str) -> tuple:
    meta = model.metadata
    return (model.name, model.version, role, model.sha256, meta.get("algorithm", meta["format"]), meta["created"])


class PredictionEvents(NamedTuple):
    """A loaded version's events not yet applied to its series."""

    requests: EventColumns
    rows: EventColumns  # single-row requests' rows
    tallies: EventColumns  # batches' tallies
    layout: TallyLayout

    def drain(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.requests.drain(), self.rows.drain(), self.tallies.drain()


class PendingSeries(NamedTuple):
    """A loaded version whose series could not be started yet (a full metrics filesystem)."""

    events: PredictionEvents
    model: object
    role: str


class ModelSeries(NamedTuple):
    """A loaded model version's events and its labelled children."""

    events: PredictionEvents
    predictions: object
    inference: object
    batch_size: object
    confidence: object
    outputs: list  # per class, or per prediction bucket
    features: list  # (bucket children, missing child) per feature
