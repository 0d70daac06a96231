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
        if document.get("status") != "success":
            raise PrometheusUnavailable(f"Prometheus refused {params.get('query')!r}: {document.get('error')}")
        return document["data"]

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        params = {"query": expr}
        if at is not None:
            params["time"] = at
        return [Sample(r["metric"], float(r["value"][1])) for r in self._get("/api/v1/query", params)["result"]]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        data = self._get("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step})
        return [Series(r["metric"], [(float(t), float(v)) for t, v in r["values"]]) for r in data["result"]]
