"""The exporter's /metrics body: Prometheus text format 0.0.4, the same bytes as
prometheus-client's ``generate_latest``, at a fraction of its cost where the
docker collector serves thousands of samples.

``generate_latest`` validates and escapes every label name and value of every
sample: with 200 containers (2,700 samples of six labels) that was 45 ms of a
60 ms scrape. A container's label set is the same in each of its dozen
families and from one scrape to the next, so ``TextEncoder`` renders each
label set once (with the library's own escaping) and reuses it while it is
still served. Families the fast path does not cover (timestamps, exemplars,
OpenMetrics-only samples) are handed to ``generate_latest`` whole;
tests/exporter/test_exposition.py holds both to the same bytes.
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import ALLOWUTF8, _escape, escape_label_name, escape_metric_name
from prometheus_client.utils import floatToGoString

# prometheus-client's text format writes these OpenMetrics types under the 0.0.4 names
_TEXT_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}
_TEXT_SUFFIXES = {"counter": "_total", "info": "_info"}
_OPENMETRICS_ONLY = ("_created", "_gsum", "_gcount")


class _One:
    """A registry of one family, to hand that family to ``generate_latest``."""

    def __init__(self, family: Metric):
        self._family = family

    def collect(self):
        return [self._family]


class TextEncoder:
    """Renders families as text format 0.0.4; keeps the label sets of the last body it wrote.
    Safe for concurrent scrapes: each builds its own table and the last one written is kept."""

    def __init__(self):
        self._label_text: dict[tuple, str] = {}

    def encode(self, families: Iterable[Metric]) -> bytes:
        previous, current = self._label_text, {}
        output: list[str] = []
        for family in families:
            if not self._simple(family):
                output.append(generate_latest(_One(family)).decode())
                continue
            name = family.name + _TEXT_SUFFIXES.get(family.type, "")
            documentation = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
            output.append(f"# HELP {escape_metric_name(name)} {documentation}\n"
                          f"# TYPE {escape_metric_name(name)} {_TEXT_TYPES.get(family.type, family.type)}\n")
            sample_names: dict[str, str] = {}
            for sample in family.samples:
                sample_name = sample_names.get(sample.name)
                if sample_name is None:
                    sample_name = sample_names[sample.name] = escape_metric_name(sample.name)
                if sample.labels:
                    key = tuple(sample.labels.items())
                    text = current.get(key)
                    if text is None:
                        text = previous.get(key) or _render_labels(sample.labels)
                        current[key] = text
                    output.append(f"{sample_name}{{{text}}} {floatToGoString(sample.value)}\n")
                else:
                    output.append(f"{sample_name} {floatToGoString(sample.value)}\n")
        self._label_text = current
        return "".join(output).encode("utf-8")

    @staticmethod
    def _simple(family: Metric) -> bool:
        """Whether every sample is a plain name, labels and value (what the fast path writes)."""
        openmetrics_only = tuple(family.name + suffix for suffix in _OPENMETRICS_ONLY)
        return all(sample.timestamp is None and sample.exemplar is None and sample.name not in openmetrics_only
                   and getattr(sample, "native_histogram", None) is None for sample in family.samples)


def _render_labels(labels: dict[str, str]) -> str:
    # as generate_latest: names sorted, escaped if outside the legacy character set; values escaped
    return ",".join(f'{escape_label_name(name)}="{_escape(value, ALLOWUTF8, False)}"'
                    for name, value in sorted(labels.items()))
