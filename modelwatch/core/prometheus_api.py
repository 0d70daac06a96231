"""A small client for Prometheus's HTTP query API (instant and range queries),
shared by the autoscaler, ``baseline record`` and ``report``."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError


class PrometheusUnavailable(ModelwatchError):
    """Prometheus could not be reached or refused the query."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float]]


class PrometheusApi:
    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    @classmethod
    def from_config(cls, config: Config) -> "PrometheusApi":
        return cls(f"http://{config.prometheus.host}:{config.prometheus.port}")

    def _get(self, path: str, params: dict) -> dict:
        try:
            answer = self.session.get(f"{self.base_url}{path}", params=params, timeout=self.timeout)
            document = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise PrometheusUnavailable(f"Prometheus at {self.base_url} did not answer ({type(exc).__name__})") from None
        if not isinstance(document, dict) or document.get("status") != "success":
            error = document.get("error") if isinstance(document, dict) else f"an answer of type {type(document).__name__}"
            raise PrometheusUnavailable(f"Prometheus refused {params.get('query')!r}: {error}")
        return document.get("data")

    def _result(self, path: str, params: dict, kind: str, parse) -> list:
        """The answer's result parsed by ``parse``; any other shape (a proxy's page, a scalar where a vector
        was asked for) is a PrometheusUnavailable, never a KeyError or TypeError in the caller."""
        data = self._get(path, params)
        try:
            if data["resultType"] != kind:
                raise ValueError(f"a {data['resultType']}, not a {kind}")
            return [parse(r) for r in data["result"]]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise PrometheusUnavailable(f"Prometheus answered {params.get('query')!r} with something unexpected: "
                                        f"{exc}") from None

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """An instant vector's samples; values are as Prometheus sent them (NaN and infinities included)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = at
        return self._result("/api/v1/query", params, "vector", lambda r: Sample(dict(r["metric"]), float(r["value"][1])))

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        return self._result("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step}, "matrix",
                            lambda r: Series(dict(r["metric"]), [(float(t), float(v)) for t, v in r["values"]]))
