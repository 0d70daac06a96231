"""modelwatch up: start the local stack — the edge, model service, exporter,
Alertmanager, Prometheus (with the project's rules), the autoscaler and the supervisor — on
loopback, wait until each is healthy, and print where they are. Trains the
model first if no version exists."""

from __future__ import annotations

import argparse

from rich.console import Console

from modelwatch.core.config import Config
from modelwatch.local.stack import Stack, ensure_model


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds each component may take to get healthy")


def run(args: argparse.Namespace, config: Config) -> int:
    console = Console(soft_wrap=True)
    stack = Stack(config)
    stack.preflight()  # before training: a busy port should not cost a training run
    with console.status("training a first model version if there is none"):
        trained = ensure_model(config)
    if trained:
        console.print(f"trained {config.model.name} {trained}")
    with console.status("starting") as status:
        components = stack.up(progress=status.update, timeout=args.timeout)
    for component in components:
        console.print(f"  {component.name:<13} {component.url or '(restarts any component that dies)'}")
        if component.name == "service" and config.service.grpc_port:
            console.print(f"  {'':<13} grpc://{config.service.host}:{config.service.grpc_port} (Open Inference Protocol)")
    console.print(f"logs in {stack.paths.logs}; stop with: modelwatch down")
    return 0
