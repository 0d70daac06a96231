"""modelwatch exporter: serve the exporter's /metrics (collectors from modelwatch.exporter.collectors)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal

from modelwatch.exporter.collectors import COLLECTORS
from modelwatch.core.ports import check_port_free
from modelwatch.core.config import Config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default 9188)")
    known = "; ".join(f"{name}: {info.help}" for name, info in COLLECTORS.items())
    parser.add_argument("--collectors", help=f"comma-separated (default: baseline,host,process). {known}")


def run(args: argparse.Namespace, config: Config) -> int:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("collectors", args.collectors)) if v}
    config = dataclasses.replace(config, exporter=dataclasses.replace(config.exporter, **overrides))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from modelwatch.exporter.server import serve

    check_port_free(config.exporter.host, config.exporter.port)
    serve(config)  # validates the collectors first: a bad name fails here, in one line
    print(f"exporter on http://{config.exporter.host}:{config.exporter.port}/metrics "
          f"(collectors: {', '.join(config.exporter.enabled_collectors)})", flush=True)
    # Nothing to flush or drain: the exporter holds no state worth saving.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.pause()
    return 0
