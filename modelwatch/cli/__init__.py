"""The ``modelwatch`` command: a table of subcommands, one module each.

Each module has ``add_arguments(parser)`` and ``run(args, config) -> int``;
``main`` is the one error boundary that turns a ModelwatchError into a
one-line message and its exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NamedTuple

from modelwatch import __version__
from modelwatch.core.config import load_config
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.extras import explain


class CommandInfo(NamedTuple):
    module: str
    summary: str


COMMANDS: dict[str, CommandInfo] = {
    "train": CommandInfo("modelwatch.cli.train", "train the Iris model and register a new version"),
    "serve": CommandInfo("modelwatch.cli.serve", "serve the model API with metrics under gunicorn"),
    "keys": CommandInfo("modelwatch.cli.keys", "create, list and remove API keys"),
    "deploy": CommandInfo("modelwatch.cli.deploy", "choose the stable and canary versions that serve"),
    "exporter": CommandInfo("modelwatch.cli.exporter", "serve the exporter's /metrics (baselines, host, processes, ...)"),
    "demo": CommandInfo("modelwatch.cli.demo", "the whole loop in minutes: up, baseline, step load, autoscaling, report"),
    "up": CommandInfo("modelwatch.cli.up", "start the local stack: service, exporter, Prometheus, Alertmanager, autoscaler"),
    "status": CommandInfo("modelwatch.cli.status", "show the local stack's components, their health and the replicas"),
    "down": CommandInfo("modelwatch.cli.down", "stop the local stack"),
    "load": CommandInfo("modelwatch.cli.load", "run a Locust load scenario headless, gated on the SLO"),
    "baseline": CommandInfo("modelwatch.cli.baseline", "record the performance baseline of the stable version"),
    "report": CommandInfo("modelwatch.cli.report", "write an HTML report with charts from Prometheus for a time range"),
    "autoscaler": CommandInfo("modelwatch.cli.autoscaler", "scale the service's workers with the Kubernetes HPA algorithm"),
    "dashboards": CommandInfo("modelwatch.cli.dashboards", "write the Grafana dashboards and their provisioning files"),
    "rules": CommandInfo("modelwatch.cli.rules", "write the Prometheus rules and the Prometheus and Alertmanager configuration"),
    "generate": CommandInfo("modelwatch.cli.generate", "rewrite every generated file the repository commits, in order"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other failure
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="modelwatch", description="Monitoring and observability for deployed ML models.")
    parser.add_argument("--version", action="version", version=f"modelwatch {__version__}")
    parser.add_argument("--config", metavar="FILE", help="configuration file (default: $MODELWATCH_CONFIG or ./modelwatch.yaml)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, info in COMMANDS.items():
        sub = commands.add_parser(name, help=info.summary, description=info.summary)
        importlib.import_module(info.module).add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        config = load_config(args.config)
        try:
            return importlib.import_module(COMMANDS[args.command].module).run(args, config)
        except ModuleNotFoundError as exc:  # an optional part that is not installed (modelwatch.core.extras)
            raise explain(exc) or exc
    except ModelwatchError as exc:
        print(f"modelwatch {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
