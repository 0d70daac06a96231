"""modelwatch supervise: restart the local stack's components that die (``modelwatch up`` starts it)."""

from __future__ import annotations

import argparse
import signal
import threading

from modelwatch.core.config import Config
from modelwatch.local.stack import Stack


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between checks")


def run(args: argparse.Namespace, config: Config) -> int:
    from modelwatch.local.supervisor import supervise

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"supervising the local stack's components every {args.interval:g} s", flush=True)
    supervise(Stack(config), stop, args.interval, say=lambda message: print(message, flush=True))
    return 0
