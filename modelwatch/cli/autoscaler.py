"""modelwatch autoscaler: run the local autoscaler — the Kubernetes HPA
algorithm on a Prometheus metric, scaling the service's gunicorn workers —
with its state on /metrics in kube-state-metrics' HPA shape."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import threading

from modelwatch.core.config import Config
from modelwatch.core.ports import check_port_free


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="port of its /metrics (default 9189)")
    parser.add_argument("--metric", choices=("requests", "cpu", "inflight"), help="what to scale on (default requests)")
    parser.add_argument("--min", dest="min_replicas", type=int, help="fewest replicas (default 1)")
    parser.add_argument("--max", dest="max_replicas", type=int, help="most replicas (default 4)")
    parser.add_argument("--backend", choices=("workers", "compose"),
                        help="scale the local service's workers (default) or a compose service's containers")


def run(args: argparse.Namespace, config: Config) -> int:
    overrides = {k: getattr(args, k) for k in ("port", "metric", "min_replicas", "max_replicas", "backend")
                 if getattr(args, k)}
    config = dataclasses.replace(config, autoscaler=dataclasses.replace(config.autoscaler, **overrides))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from prometheus_client import CollectorRegistry, start_http_server

    from modelwatch.autoscaler.backends import ComposeContainers, GunicornWorkers
    from modelwatch.autoscaler.controller import Controller
    from modelwatch.core.prometheus_api import PrometheusApi

    scaler = config.autoscaler
    check_port_free(scaler.host, scaler.port)
    if scaler.backend == "compose":
        import docker

        backend = ComposeContainers(docker.from_env(), scaler.compose_project, scaler.compose_service)
    else:
        backend = GunicornWorkers(config.paths.service_pid_file)
    controller = Controller(config, backend, PrometheusApi.from_config(config))
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
