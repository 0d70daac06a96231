"""modelwatch baseline record: read the performance baseline of the stable
model version from Prometheus after a known-good run and write it where the
exporter publishes it (and the rules compare against it)."""

from __future__ import annotations

import argparse

from modelwatch.core.config import Config
from modelwatch.cli.options import duration


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    record = actions.add_parser("record", help="record the baseline from the last --window of data")
    record.add_argument("--window", type=duration, default="5m", help="how much known-good data to read, e.g. 300s, 5m, 1h (default 5m)")
    record.add_argument("--end", type=float, help="end of the window, Unix time (default: now)")
    record.add_argument("--version", help="model version (default: the stable one)")


def run(args: argparse.Namespace, config: Config) -> int:
    from modelwatch.reports.baseline_recording import record

    version, path, baseline = record(config, int(args.window), args.end, args.version)
    latency = baseline["latency_seconds"]
    print(f"{config.model.name} {version}: p50 {latency['0.5'] * 1000:.1f} ms, p95 {latency['0.95'] * 1000:.1f} ms, "
          f"p99 {latency['0.99'] * 1000:.1f} ms, {baseline['requests_per_second_per_replica']:.1f} requests/s per "
          f"replica, {baseline['cpu_seconds_per_request'] * 1000:.2f} ms CPU per request, "
          f"{baseline['memory_bytes_per_replica'] / 2**20:.0f} MiB per replica, errors {baseline['error_ratio']:.3%} "
          f"({baseline['requests']} requests)")
    print(f"written {path}")
    return 0
