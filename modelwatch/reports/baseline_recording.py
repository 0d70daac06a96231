"""Recording the performance baseline: what a known-good window looked like,
read from Prometheus with the same definitions the rules compare against, and
written as ``performance-baseline.json`` in the stable version's folder (the
exporter publishes it from there).

The figures are the service's, measured while the version was stable: the
rules compare live figures with the stable version's baseline.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from modelwatch.core import queries
from modelwatch.models.baselines import PERFORMANCE_BASELINE_FILE, parse_performance_baseline
from modelwatch.models.registry import Registry
from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.prometheus_api import PrometheusApi

MIN_REQUESTS = 100  # fewer in the window: a baseline would be noise


def measure(config: Config, prometheus: PrometheusApi, window_seconds: int, end: float | None = None) -> dict:
    end = end if end is not None else time.time()
    values = {}
    for name, expr in queries.performance_baseline(queries.Selectors(config), f"{window_seconds}s").items():
        result = prometheus.query(expr, at=end)
        if not result:
            raise ModelwatchError(f"Prometheus has no data for {name} in the {window_seconds} s before "
                                  f"{time.strftime('%H:%M:%S', time.localtime(end))}: is the stack up, with load?")
        values[name] = result[0].value
    if values["requests"] < MIN_REQUESTS:
        raise ModelwatchError(f"only {values['requests']:.0f} API requests in the window; a baseline needs at least "
                              f"{MIN_REQUESTS} (run a load first: modelwatch load steady)")
    return {
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end)),
        "window_seconds": window_seconds,
        "requests": round(values["requests"]),
        "latency_seconds": {q: values[f"latency_{q}"] for q in queries.LATENCY_QUANTILES},
        **{name: values[name] for name in ("requests_per_second_per_replica", "cpu_seconds_per_request",
                                           "memory_bytes_per_replica", "error_ratio")},
    }


def record(config: Config, window_seconds: int, end: float | None = None, version: str | None = None) -> tuple[str, Path, dict]:
    """Measure and write the baseline of ``version`` (default: the stable one); returns (version, path, baseline)."""
    registry = Registry(config.paths.registry_dir, config.model.name)
    version = version or registry.deployment().stable
    if version not in registry.versions():
        raise ModelwatchError(f"no version {version!r} of {config.model.name} (have: {', '.join(registry.versions())})")
    baseline = measure(config, PrometheusApi.from_config(config), window_seconds, end)
    text = json.dumps(baseline, indent=2)
    parse_performance_baseline(text)  # what the exporter will accept, or a clear error now
    path = registry.model_dir / version / PERFORMANCE_BASELINE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)
    return version, path, baseline
