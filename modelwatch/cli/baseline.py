"""modelwatch baseline record: read the performance baseline of the stable
model version from Prometheus after a known-good run and write it where the
exporter publishes it (and the rules compare against it)."""

from __future__ import annotations

import argparse
import re

from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    record = actions.add_parser("record", help="record the baseline from the last --window of data")
    record.add_argument("--window", default="5m", help="how much known-good data to read, e.g. 300s, 5m, 1h (default 5m)")
    record.add_argument("--end", type=float, help="end of the window, Unix time (default: now)")
    record.add_argument("--version", help="model version (default: the stable one)")


def seconds(text: str) -> int:
    match = re.fullmatch(r"(\d+)([smh]?)", text.strip())
    if not match or int(match.group(1)) == 0:
        raise ModelwatchError(f"--window: expected a duration like 300s, 5m or 1h, not {text!r}")
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def run(args: argparse.Namespace, config: Config) -> int:
    from modelwatch.reports.baseline_recording import record

    version, path, baseline = record(config, seconds(args.window), args.end, args.version)
    latency = baseline["latency_seconds"]
    print(f"{config.model.name} {version}: p50 {latency['0.5'] * 1000:.1f} ms, p95 {latency['0.95'] * 1000:.1f} ms, "
          f"p99 {latency['0.99'] * 1000:.1f} ms, {baseline['requests_per_second_per_replica']:.1f} requests/s per "
          f"replica, {baseline['cpu_seconds_per_request'] * 1000:.2f} ms CPU per request, "
          f"{baseline['memory_bytes_per_replica'] / 2**20:.0f} MiB per replica, errors {baseline['error_ratio']:.3%} "
          f"({baseline['requests']} requests)")
    print(f"written {path}")
    return 0
