"""modelwatch demo: up, a baseline from a steady load, a step load that makes
the autoscaler scale up and back down (with labels sent for some predictions),
a report, a summary with the live accuracy; then down (unless --keep). About
five minutes on a 2-core machine."""

from __future__ import annotations

import argparse
import time

from rich.console import Console

from modelwatch.core.config import Config


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    parser.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    parser.add_argument("--peak-users", type=int, default=60, help="users at the step's peak (2 requests/s each)")
    parser.add_argument("--step-seconds", type=float, default=210, help="length of the step load (default 210)")


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.0f} s"


def run(args: argparse.Namespace, config: Config) -> int:
    from modelwatch.reports.demo import DemoPlan, run_demo

    console = Console(soft_wrap=True)
    plan = DemoPlan(step_seconds=args.step_seconds, peak_users=args.peak_users)
    with console.status("demo") as status:
        result = run_demo(config, plan, keep=args.keep, progress=lambda m: status.update(f"demo: {m}"))
    first = result.timeline.points[0][0]
    changes, last = [], None
    for stamp, replicas in result.timeline.points:
        if replicas != last:
            changes.append(f"+{stamp - first:.0f}s: {replicas}")
            last = replicas
    b = result.baseline
    console.print(f"baseline (steady part): p95 {b['latency_seconds']['0.95'] * 1000:.1f} ms, "
                  f"{b['requests_per_second_per_replica']:.1f} requests/s per replica")
    console.print(f"step load: {result.load['requests']} requests, errors {result.load['error_ratio']:.3%}, "
                  f"Locust p95 {result.load['p95_seconds'] * 1000:.0f} ms; 5xx answers {result.server_errors:.0f}")
    console.print(f"peak {result.peak_rps:.1f} requests/s; highest p95 {result.p95_max_seconds * 1000:.1f} ms")
    console.print(f"replicas over time: {', '.join(changes)}")
    t = result.timings
    console.print(f"after the step: scale-up decision {_seconds(t['step_to_scale_up_decision'])}, new replicas "
                  f"{_seconds(t['step_to_new_replicas'])}, latency SLO met {_seconds(t['step_to_latency_slo_met'])}; "
                  f"after the load fell: back to the minimum {_seconds(t['load_fall_to_scale_down'])}")
    served = ", ".join(f"{pid}: {cpu:.2f} s" for pid, cpu in result.new_workers_cpu.items()) or "none"
    console.print(f"CPU the new workers spent serving: {served}")
    for scored in result.quality:
        live, reference = scored.live.get("accuracy"), scored.reference.get("accuracy")
        console.print(f"live quality of {scored.model} {scored.version}: accuracy {live:.1%} on {scored.labels:.0f} "
                      f"labels sent later" + (f", against {reference:.1%} on its reference data" if reference else ""))
    if not result.quality:
        console.print("live quality: no label arrived")
    fired = ", ".join(f"{a['alertname']} ({a['severity']})" for a in result.alerts_fired) or "none"
    console.print(f"alerts fired: {fired}")
    console.print(f"report: {result.report}  (at {time.strftime('%H:%M:%S')})")
    if args.keep:
        console.print("the stack is still running: modelwatch status; modelwatch down")
    return 0
