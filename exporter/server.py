"""The exporter's HTTP endpoint: /metrics from a fresh registry holding the scrape collector."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server

from modelwatch.exporter.scrape import build
from modelwatch.core.config import Config


def registry_for(config: Config) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(build(config))
    return registry


def serve(config: Config):
    """Start serving in a background thread; returns (server, thread)."""
    return start_http_server(config.exporter.port, addr=config.exporter.host, registry=registry_for(config))
