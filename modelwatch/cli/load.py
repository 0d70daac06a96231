"""modelwatch load: run a Locust scenario headless against the local stack (or
any URL), with CSV and HTML reports; exits 1 when the run breaks the SLO, as
Prometheus saw it (the rules' definitions), with Locust's figures beside it."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from modelwatch.loadtests.labels import LabelPlan
from modelwatch.loadtests.runner import LoadRun, default_out_dir, start, verdict
from modelwatch.model_service.keys import KeyStore
from modelwatch.loadtests.scenarios import SCENARIOS
from modelwatch.cli.options import duration, prometheus_url
from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.prometheus_api import PrometheusApi


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    parser.add_argument("scenario", choices=list(SCENARIOS), metavar="SCENARIO",
                        help="; ".join(f"{name}: {s.help}" for name, s in SCENARIOS.items()).replace("%", "%%"))
    parser.add_argument("--users", type=int, default=20, help="peak users (default 20)")
    parser.add_argument("--duration", type=duration, default=60.0, help="how long, e.g. 60, 90s, 5m (default 60 s)")
    parser.add_argument("--rate-per-user", type=float, default=2.0, help="requests per second each user sends (default 2)")
    parser.add_argument("--model", metavar="NAME", help="a registered model: rows of its reference sample "
                                                         "(default: the default model's routes)")
    labels = parser.add_argument_group("the labels scenario")
    labels.add_argument("--label-share", type=float, default=LabelPlan.share,
                        help=f"share of predictions whose true label is sent (default {LabelPlan.share:g})")
    labels.add_argument("--label-delay", type=duration, default=LabelPlan.delay_seconds,
                        help=f"from a prediction to its label, e.g. 10s, 2m (default {LabelPlan.delay_seconds:g} s)")
    labels.add_argument("--concept-drift", type=float, default=0.0, metavar="SHARE",
                        help="flip this share of the labels (another class, or another row's value): the quality "
                             "alerts must fire (default 0: none)")
    labels.add_argument("--concept-drift-after", type=duration, default=0.0, metavar="DURATION",
                        help="flip only the labels of predictions made this far into the run (default 0)")
    parser.add_argument("--protocol", choices=("http", "grpc"), default="http",
                        help="http (the REST API, default) or grpc (the Open Inference Protocol's ModelInfer)")
    parser.add_argument("--url", help="the API to load (default: the local service; with --protocol grpc, "
                                      "host:port of its gRPC port)")
    parser.add_argument("--key", help="API key (default: a fresh key for the client 'loadtest')")
    prometheus_url(parser, config, "the Prometheus that scrapes the service and judges the SLO")
    parser.add_argument("--out", type=Path, help="report folder (default: var/loadtests/<time>-<scenario>)")


def run(args: argparse.Namespace, config: Config) -> int:
    grpc_target = ""
    if args.protocol == "grpc":
        if not args.url and not config.service.grpc_port:
            raise ModelwatchError("service.grpc_port is 0 (gRPC off): give --url host:port of a gRPC service")
        grpc_target = args.url or f"{config.service.host}:{config.service.grpc_port}"
    url = f"grpc://{grpc_target}" if grpc_target else args.url or f"http://{config.service.host}:{config.service.port}"
    run = LoadRun(args.scenario, args.users, args.duration, url, args.key or KeyStore(config.paths.keys_file).renew("loadtest"),
                  args.out or default_out_dir(config, args.scenario), args.rate_per_user, args.model,
                  LabelPlan(args.label_share, args.label_delay, args.concept_drift, args.concept_drift_after),
                  grpc_target)
    console = Console(soft_wrap=True)
    with console.status(f"{args.scenario}: up to {args.users} users for {args.duration:g} s against {url}"):
        start(run, config).wait()
    prometheus = PrometheusApi(args.prometheus_url) if args.prometheus_url else None
    with console.status("judging the SLO from Prometheus"):
        result = verdict(run, config, prometheus)
    server = result["server"]
    judged = (f"server-side availability {server['availability']:.3%}, {server['within_latency']:.2%} within "
              f"{config.slo.latency_threshold_seconds * 1000:g} ms" if server and server["requests"] else "")
    console.print(f"{result['requests']} requests, {result['requests_per_second']:.1f}/s; Locust: errors "
                  f"{result['error_ratio']:.3%}, p95 {result['p95_seconds'] * 1000:.0f} ms"
                  + (f"; {judged}" if judged else "") + ": "
                  + ("SLO met" if result["passed"] else "SLO broken: " + "; ".join(result["breaches"])))
    console.print(f"reports in {run.out_dir} (report.html, locust_stats.csv, slo-gate.json)")
    return 0 if result["passed"] else 1
