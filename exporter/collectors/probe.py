"""A synthetic client: calls the model API on an interval with inputs whose
answers were recorded at training time, and checks the answer, so that
availability and correctness are seen from outside, as a user sees them.

The inputs are the ``probe`` rows of the deployed versions' metadata; an answer
is correct when it matches what its ``model_version`` answered at training.
A probe that cannot read those rows (no deployment, an unreadable version) or
fails in any other way is a failed probe, not a skipped one: the success gauge
drops to 0 and the alert on it can fire.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Iterable

import requests
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from modelwatch.core.errors import ModelwatchError
from modelwatch.models.registry import Registry

log = logging.getLogger(__name__)
# registry_error: the probe could not read its inputs; probe_error: anything else went wrong in the probe.
RESULTS = ("success", "wrong_answer", "http_error", "connection_error", "registry_error", "probe_error")
FEATURES = ("sl", "sw", "pl", "pw")


class ProbeCollector:
    def __init__(self, url: str, key: str, registry: Registry, interval_seconds: float, timeout_seconds: float,
                 background: bool = True):
        self.url = url.rstrip("/") + "/api/v1/classify"
        self.target = url
        self._key = key
        self._registry = registry
        self._interval = interval_seconds
        self._timeout = timeout_seconds
        self._session = requests.Session()
        self._counts = dict.fromkeys(RESULTS, 0)
        self._last: dict | None = None
        self._rows = itertools.count()
        self._background = background  # False: the caller runs probe_once() itself
        self._thread: threading.Thread | None = None

    def _expected(self) -> dict[str, list[tuple[list[float], str]]]:
        """Recorded (row, class) pairs per deployed version."""
        deployment = self._registry.deployment()
        expected = {}
        for version in deployment.versions:
            probe = self._registry.metadata(version)["probe"]
            expected[version] = list(zip(probe["rows"], probe["classes"]))
        return expected

    def probe_once(self) -> str:
        """One request; returns its result (one of RESULTS)."""
        started = time.monotonic()
        try:
            expected = self._expected()
            stable_cases = next(iter(expected.values()))
            row, _ = stable_cases[next(self._rows) % len(stable_cases)]
        except (ModelwatchError, OSError, LookupError, TypeError, ValueError, StopIteration, ZeroDivisionError) as exc:
            log.warning("probe: cannot read the probe rows from the registry: %s", exc)
            return self._record("registry_error", started)
        try:
            response = self._session.get(self.url, params=dict(zip(FEATURES, row)), timeout=self._timeout,
                                         headers={"X-API-Key": self._key})
            if response.status_code != 200:
                result = "http_error"
            else:
                body = response.json()
                answers = dict((tuple(r), c) for r, c in expected.get(body.get("model_version"), []))
                result = "success" if answers.get(tuple(row)) == body.get("species") else "wrong_answer"
        except (requests.RequestException, ValueError):
            result = "connection_error"
        return self._record(result, started)

    def _record(self, result: str, started: float) -> str:
        self._counts[result] += 1
        self._last = {"result": result, "duration": time.monotonic() - started, "at": time.time()}
        return result

    def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                self.probe_once()
            except Exception:  # a bug, not a finding: logged, and the probe shows as failing
                log.exception("probe: unexpected failure")
                self._record("probe_error", started)
            time.sleep(self._interval)

    def collect(self) -> Iterable:
        if self._background and self._thread is None:  # probing starts with the first scrape
            self._thread = threading.Thread(target=self._loop, name="probe", daemon=True)
            self._thread.start()
        target = [self.target]
        success = GaugeMetricFamily("modelwatch_probe_success", "1 if the last probe got an answer (HTTP 200).",
                                    labels=["target"])
        correct = GaugeMetricFamily("modelwatch_probe_answer_correct",
                                    "1 if the last probe's answer matched the answer recorded at training.",
                                    labels=["target"])
        duration = GaugeMetricFamily("modelwatch_probe_duration_seconds", "Duration of the last probe.",
                                     labels=["target"])
        last = GaugeMetricFamily("modelwatch_probe_last_run_timestamp_seconds", "When the last probe ran (Unix time).",
                                 labels=["target"])
        runs = CounterMetricFamily("modelwatch_probe_requests", "Probes by result.", labels=["target", "result"])
        if self._last is not None:
            result = self._last["result"]
            success.add_metric(target, 1.0 if result in ("success", "wrong_answer") else 0.0)
            correct.add_metric(target, 1.0 if result == "success" else 0.0)
            duration.add_metric(target, self._last["duration"])
            last.add_metric(target, self._last["at"])
        for result, count in self._counts.items():
            runs.add_metric([self.target, result], count)
        return [success, correct, duration, last, runs]
