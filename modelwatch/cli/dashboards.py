"""modelwatch dashboards: write the Grafana dashboards (JSON) and the
provisioning files that load them with a Prometheus datasource."""

from __future__ import annotations

from pathlib import Path

from modelwatch.dashboards.provisioning import DASHBOARDS_PATH, write
from modelwatch.cli.options import prometheus_url
from modelwatch.core.config import Config


def add_arguments(parser, config: Config) -> None:
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("grafana"),
                        help="folder to write into: dashboards/*.json and provisioning/ (default: ./grafana)")
    prometheus_url(parser, config, "the datasource URL Grafana uses")
    parser.add_argument("--dashboards-path", metavar="PATH", default=DASHBOARDS_PATH,
                        help=f"where Grafana will find the JSON files (default: {DASHBOARDS_PATH})")


def run(args, config) -> int:
    for path in write(config, args.out, args.prometheus_url, args.dashboards_path):
        print(path)
    return 0
