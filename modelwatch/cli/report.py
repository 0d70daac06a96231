"""modelwatch report: a self-contained HTML report with PNG charts from
Prometheus for a time range (request rate, latency against the baseline,
replicas against load, CPU and memory per replica, drift per model, alerts
that fired)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from modelwatch.cli.options import duration
from modelwatch.core.config import Config


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    parser.add_argument("--since", type=duration, default="15m", help="how far back from --end, e.g. 900s, 15m, 2h (default 15m)")
    parser.add_argument("--end", type=float, help="end of the range, Unix time (default: now)")
    parser.add_argument("--out", type=Path, help="HTML file to write (default: var/reports/report-<time>.html)")


def run(args: argparse.Namespace, config: Config) -> int:
    from modelwatch.reports.report import write

    end = args.end or time.time()
    start = end - args.since
    out = args.out or Path(config.paths.state_dir) / "reports" / f"report-{time.strftime('%Y%m%d-%H%M%S')}.html"
    report = write(config, out, start, end)
    print(", ".join(f"{k}: {v}" for k, v in report.summary.items()))
    print(f"written {out}")
    return 0
