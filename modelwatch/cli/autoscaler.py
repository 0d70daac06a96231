"""modelwatch autoscaler: run the local autoscaler — the Kubernetes HPA
algorithm on a Prometheus metric, scaling the service's gunicorn workers —
with its state on /metrics in kube-state-metrics' HPA shape."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from modelwatch.core.config import Config
from modelwatch.autoscaler.backends import BACKENDS
from modelwatch.cli.options import setting, with_settings
from modelwatch.core.ports import check_port_free
from modelwatch.core.queries import SCALING_METRICS


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    scaler = config.autoscaler
    setting(parser, scaler, "port", "port of its /metrics")
    setting(parser, scaler, "metric", "what to scale on", choices=list(SCALING_METRICS))
    setting(parser, scaler, "min_replicas", "fewest replicas", flag="--min")
    setting(parser, scaler, "max_replicas", "most replicas", flag="--max")
    setting(parser, scaler, "backend", "scale the local service's workers or a compose service's containers",
            choices=list(BACKENDS))


def run(args: argparse.Namespace, config: Config) -> int:
    config = with_settings(config, "autoscaler", args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from prometheus_client import CollectorRegistry, start_http_server

    from modelwatch.autoscaler.controller import Controller
    from modelwatch.core.prometheus_api import PrometheusApi

    scaler = config.autoscaler
    check_port_free(scaler.host, scaler.port)
    controller = Controller(config, BACKENDS[scaler.backend](config), PrometheusApi.from_config(config))
    registry = CollectorRegistry()
    registry.register(controller)
    start_http_server(scaler.port, addr=scaler.host, registry=registry)
    print(f"autoscaler on http://{scaler.host}:{scaler.port}/metrics: {controller.metric.name} per replica, target "
          f"{controller.metric.target:g}, {scaler.min_replicas}-{scaler.max_replicas} replicas, every "
          f"{scaler.sync_period_seconds:g} s", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller.run(stop)
    return 0
