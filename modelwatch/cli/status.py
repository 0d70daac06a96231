"""modelwatch status: each component of the local stack, its health, and the service's replicas."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from modelwatch.core.config import Config
from modelwatch.local.stack import Stack


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    pass


def run(args: argparse.Namespace, config: Config) -> int:
    stack = Stack(config)
    rows = stack.status()
    table = Table(title="modelwatch local stack")
    for column in ("component", "pid", "health", "url"):
        table.add_column(column)
    for row in rows:
        health = "healthy" if row["healthy"] else ("unhealthy" if row["pid"] else "stopped")
        table.add_row(row["name"], str(row["pid"] or "-"), health, row["url"])
    console = Console()
    console.print(table)
    replicas = stack.replicas()
    console.print(f"service replicas (gunicorn workers): {replicas if replicas is not None else '-'}")
    # Exit status for scripts: 0 when everything is healthy, 1 otherwise.
    return 0 if all(row["healthy"] for row in rows) else 1
