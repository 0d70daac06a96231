"""modelwatch down: stop the local stack (also what an interrupted up left running)."""

from __future__ import annotations

import argparse

from modelwatch.core.config import Config
from modelwatch.local.stack import Stack


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    pass


def run(args: argparse.Namespace, config: Config) -> int:
    stopped = Stack(config).down()
    print(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
    return 0
