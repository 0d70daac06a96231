"""Run the enabled collectors for a scrape: failures isolated, time bounded.

Each collector runs on its own background thread, one collection at a time. A
scrape waits for all of them up to the deadline; a collector that has not
finished by then is served from its last complete collection, and
``modelwatch_scrape_collector_age_seconds`` says how old that is. A collector
that raises reports success 0 and the exception's type and serves no series
(unless it raises ``StaleCollection`` with a cache that carries its own age):
Prometheus marks its series stale at once rather than graphing a dead backend's
last figures as current. The others are served as usual, and it recovers by
itself on a later scrape.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily

from modelwatch.exporter.collectors import COLLECTORS, Collector, StaleCollection
from modelwatch import __version__
from modelwatch.core.config import Config
from modelwatch.core.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class _State:
    collector: Collector
    running: Future | None = None
    metrics: list = field(default_factory=list)  # what is served: the last complete collection, if it still holds
    finished: float | None = None  # when it completed (monotonic)
    duration: float = 0.0
    error: str | None = None  # exception type of the last attempt, if it failed


class ScrapeCollector:
    """A prometheus_client collector that fans out to the enabled collectors."""

    def __init__(self, collectors: dict[str, Collector], deadline_seconds: float):
        self._states = {name: _State(collector) for name, collector in collectors.items()}
        self._deadline = deadline_seconds
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(collectors)), thread_name_prefix="collector")
        self._lock = threading.Lock()

    def describe(self):
        return []  # collecting is expensive: never at registration

    def _run(self, name: str, state: _State) -> None:
        started = time.monotonic()
        try:
            metrics = list(state.collector.collect())
        except StaleCollection as exc:
            state.metrics, state.error = exc.metrics, type(exc.cause).__name__
            log.warning("collector %s failed, serving its cache: %s", name, exc)
        except Exception as exc:  # a backend fault must never fail the scrape
            state.metrics, state.error = [], type(exc).__name__
            log.warning("collector %s failed: %s: %s", name, type(exc).__name__, exc)
        else:
            state.metrics, state.error, state.finished = metrics, None, time.monotonic()
        state.duration = time.monotonic() - started

    def collect(self):
        with self._lock:  # concurrent scrapes share the running collections
            pending = []
            for name, state in self._states.items():
                if state.running is None or state.running.done():
                    state.running = self._pool.submit(self._run, name, state)
                pending.append(state.running)
        wait(pending, timeout=self._deadline)

        duration = GaugeMetricFamily("modelwatch_scrape_collector_duration_seconds",
                                     "How long the collector's last collection took.", labels=["collector"])
        success = GaugeMetricFamily("modelwatch_scrape_collector_success",
                                    "1 if the collector's last collection succeeded within the deadline.",
                                    labels=["collector"])
        age = GaugeMetricFamily("modelwatch_scrape_collector_age_seconds",
                                "Age of the last complete collection: above 0 when the collector is late or failing.",
                                labels=["collector"])
        errors = GaugeMetricFamily("modelwatch_scrape_collector_error_info",
                                   "The error of a failing collector (the exception type), as an info series.",
                                   labels=["collector", "error"])
        now = time.monotonic()
        for name, state in self._states.items():
            on_time = state.running.done()
            ok = on_time and state.error is None
            success.add_metric([name], 1.0 if ok else 0.0)
            duration.add_metric([name], state.duration)
            if state.finished is not None:
                age.add_metric([name], 0.0 if ok else now - state.finished)
                yield from state.metrics
            if state.error is not None:
                errors.add_metric([name, state.error], 1.0)
        info = GaugeMetricFamily("modelwatch_exporter_build_info", "modelwatch exporter version.",
                                 labels=["version", "python_version"])
        info.add_metric([__version__, platform.python_version()], 1.0)
        up = GaugeMetricFamily("modelwatch_up", "1 when every enabled collector succeeded within the deadline.")
        up.add_metric([], 1.0 if all(s.value == 1.0 for s in success.samples) else 0.0)
        yield from (duration, success, age, errors, info, up)


def build(config: Config) -> ScrapeCollector:
    """The configured collectors; an unknown name is a one-line configuration error."""
    names = config.exporter.enabled_collectors
    unknown = [name for name in names if name not in COLLECTORS]
    if unknown:
        raise ConfigError(f"exporter.collectors: unknown collector {unknown[0]!r}; known: {', '.join(COLLECTORS)}")
    return ScrapeCollector({name: COLLECTORS[name].build(config) for name in names},
                           config.exporter.collector_deadline_seconds)
