"""modelwatch exporter: serve the exporter's /metrics (collectors from modelwatch.exporter.collectors)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal

from modelwatch.exporter.collectors import COLLECTORS
from modelwatch.cli.options import setting, with_settings
from modelwatch.core.ports import check_port_free
from modelwatch.core.config import Config


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    setting(parser, config.exporter, "host", "address to bind")
    setting(parser, config.exporter, "port", "port to bind")
    known = "; ".join(f"{name}: {info.help}" for name, info in COLLECTORS.items())
    setting(parser, config.exporter, "collectors", f"comma-separated; {known}".replace("%", "%%"))


def run(args: argparse.Namespace, config: Config) -> int:
    config = with_settings(config, "exporter", args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from modelwatch.exporter.server import serve

    check_port_free(config.exporter.host, config.exporter.port)
    serve(config)  # validates the collectors first: a bad name fails here, in one line
    # A scrape's objects hold no cycles and go with reference counting; the cyclic collector's full
    # passes over all the exporter holds (200 containers' inspect documents) cost 20 ms each, every
    # dozen scrapes: the p99. What startup made is left out of its passes, and it runs less often.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    print(f"exporter on http://{config.exporter.host}:{config.exporter.port}/metrics "
          f"(collectors: {', '.join(config.exporter.enabled_collectors)})", flush=True)
    # Nothing to flush or drain: the exporter holds no state worth saving.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.pause()
    return 0
