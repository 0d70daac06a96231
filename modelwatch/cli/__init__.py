"""The ``modelwatch`` command: a table of subcommands, one module each.

Each module has ``add_arguments(parser, config)`` and ``run(args, config) ->
int``; a module is imported only when its command runs or shows its help, so
one broken command cannot break the others. ``main`` is the one error boundary
that turns a ModelwatchError into a one-line message and its exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import NamedTuple

from modelwatch import __version__
from modelwatch.core.config import Config, load_config
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.extras import explain


class CommandInfo(NamedTuple):
    module: str
    summary: str


COMMANDS: dict[str, CommandInfo] = {
    "models": CommandInfo("modelwatch.cli.models", "register your own model from its artifact and reference data; list; remove"),
    "train": CommandInfo("modelwatch.cli.train", "train the Iris example model and register a new version"),
    "serve": CommandInfo("modelwatch.cli.serve", "serve the model API with metrics under gunicorn"),
    "keys": CommandInfo("modelwatch.cli.keys", "create, list and remove API keys"),
    "deploy": CommandInfo("modelwatch.cli.deploy", "choose the stable and canary versions that serve"),
    "exporter": CommandInfo("modelwatch.cli.exporter", "serve the exporter's /metrics (baselines, host, processes, ...)"),
    "demo": CommandInfo("modelwatch.cli.demo", "the whole loop in minutes: up, baseline, step load, autoscaling, report"),
    "up": CommandInfo("modelwatch.cli.up", "start the local stack: edge, service, exporter, Prometheus, Alertmanager, autoscaler, supervisor"),
    "status": CommandInfo("modelwatch.cli.status", "show the local stack's components, their health and the replicas"),
    "down": CommandInfo("modelwatch.cli.down", "stop the local stack"),
    "supervise": CommandInfo("modelwatch.cli.supervise", "restart the local stack's components that die (up starts it)"),
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


def _command_named(argv: list[str]) -> str | None:
    """The subcommand in ``argv`` (the first word that is not an option or --config's value)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _configuration(argv: list[str]) -> tuple[Config, ModelwatchError | None]:
    """The configuration in use, for the defaults that help shows; a broken one is reported
    when the command runs, so that --help still works."""
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--config")
    known, _ = peek.parse_known_args(argv)
    try:
        return load_config(known.config), None
    except ModelwatchError as exc:
        return Config(), exc


def _module(name: str) -> ModuleType:
    """A command's module, imported only when that command runs or shows its help."""
    try:
        return importlib.import_module(COMMANDS[name].module)
    except ModuleNotFoundError as exc:  # an optional part that is not installed (modelwatch.core.extras)
        raise explain(exc) or ModelwatchError(f"cannot load the command: {exc}") from None
    except Exception as exc:  # a broken command breaks only itself
        raise ModelwatchError(f"cannot load the command: {type(exc).__name__}: {exc}") from None


def build_parser(config: Config | None = None, command: str | None = None) -> argparse.ArgumentParser:
    """Every command is listed from the table; only ``command``'s module is imported, for its options."""
    parser = _Parser(prog="modelwatch", description="Monitoring and observability for deployed ML models.")
    parser.add_argument("--version", action="version", version=f"modelwatch {__version__}")
    parser.add_argument("--config", metavar="FILE", help="configuration file (default: $MODELWATCH_CONFIG or ./modelwatch.yaml)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, info in COMMANDS.items():
        sub = commands.add_parser(name, help=info.summary, description=info.summary)
        if name == command:
            _module(name).add_arguments(sub, config or Config())
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command_named(argv)
    config, config_error = _configuration(argv)
    try:
        parser = build_parser(config, command)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if config_error is not None:
            raise config_error
        try:
            return _module(args.command).run(args, config)
        except ModuleNotFoundError as exc:  # an optional part that is not installed (modelwatch.core.extras)
            raise explain(exc) or exc
    except ModelwatchError as exc:
        print(f"modelwatch {command or ''}: error: {exc}".replace(" : ", ": "), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
