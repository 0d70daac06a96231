"""Local stack benchmark: how the autoscaler follows a step, and how much load
the stack sustains within the SLO on this machine.

    python -m bench.stack [--levels 200,400,800,1600] [--seconds 30]

1. The demo's step scenario (``modelwatch demo``, 60 users at 2 requests/s at
   the peak): time from the step to the scale-up decision, to the new replicas
   serving, to p95 under the SLO, and from the load falling to the scale-down.
2. Steady loads at rising request rates (Locust, 10 requests/s per user) with
   the autoscaler free to use all its replicas: per level the achieved rate,
   errors, p95 and whether the SLO held; the highest level that held is the
   figure. Locust runs on the same two cores as the stack: the figure is the
   whole stack's on this machine, load generator included.

Prints tables and writes bench/results/stack.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.output import write_results
from bench.service import free_port
from modelwatch.loadtests.runner import LoadRun, start, verdict
from modelwatch.model_service.keys import KeyStore
from modelwatch.core.config import load_config
from modelwatch.reports.demo import DemoPlan, demo_config, run_demo
from modelwatch.local.stack import Stack, ensure_model

console = Console()
RATE_PER_USER = 10.0


def config_in(state: Path):
    return load_config(env={
        "MODELWATCH_PATHS__STATE_DIR": str(state), "MODELWATCH_SERVICE__PORT": str(free_port()),
        "MODELWATCH_EXPORTER__PORT": str(free_port()), "MODELWATCH_PROMETHEUS__PORT": str(free_port()),
        "MODELWATCH_PROMETHEUS__ALERTMANAGER_PORT": str(free_port()), "MODELWATCH_AUTOSCALER__PORT": str(free_port()),
    })


def step_timings(state: Path) -> dict:
    with console.status("step scenario (the demo's), about five minutes"):
        result = run_demo(config_in(state), DemoPlan())
    return {**result.timings, "peak_rps": result.peak_rps, "p95_max_seconds": result.p95_max_seconds,
            "max_replicas": max(n for _, n in result.timeline.points), "failures": result.load["failures"]}


def capacity(state: Path, levels: list[int], seconds: float) -> list[dict]:
    config = demo_config(config_in(state))
    # Start with every replica: this measures capacity, not how fast the autoscaler gets there.
    config = dataclasses.replace(config, service=dataclasses.replace(config.service, workers=config.autoscaler.max_replicas),
                                 autoscaler=dataclasses.replace(config.autoscaler, min_replicas=config.autoscaler.max_replicas))
    stack = Stack(config)
    stack.up()
    rows = []
    try:
        time.sleep(10)
        url, key = f"http://{config.service.host}:{config.service.port}", KeyStore(config.paths.keys_file).renew("loadtest")
        for level in levels:
            users = max(1, round(level / RATE_PER_USER))
            run = LoadRun("steady", users, seconds, url, key, state / "capacity" / str(level), RATE_PER_USER)
            with console.status(f"steady load: {level} requests/s offered"):
                start(run, config).wait()
            result = verdict(run, config)
            rows.append({"offered_rps": level, "achieved_rps": result["requests_per_second"],
                         "error_ratio": result["error_ratio"], "p95_seconds": result["p95_seconds"],
                         "slo_met": result["passed"]})
            if not result["passed"]:
                break
    finally:
        stack.down()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="200,400,800,1200,1600", help="offered request rates, comma-separated")
    parser.add_argument("--seconds", type=float, default=30, help="length of each steady level")
    parser.add_argument("--skip-step", action="store_true", help="only the capacity part")
    parser.add_argument("--out", type=Path, default=Path("bench/results/stack.json"))
    args = parser.parse_args(argv)
    results: dict = {}
    if not args.skip_step:
        state = Path(tempfile.mkdtemp(prefix="modelwatch-bench-step-"))
        ensure_model(config_in(state))
        results["step"] = step = step_timings(state)
        table = Table(title="step scenario: 12 -> 60 -> 12 users at 2 requests/s each, target 40 requests/s per replica")
        for column in ("measure", "value"):
            table.add_column(column)
        for name in ("step_to_scale_up_decision", "step_to_new_replicas", "step_to_latency_slo_met", "load_fall_to_scale_down"):
            table.add_row(name.replace("_", " "), "-" if step[name] is None else f"{step[name]:.0f} s")
        table.add_row("peak requests/s", f"{step['peak_rps']:.0f}")
        table.add_row("highest p95", f"{step['p95_max_seconds'] * 1000:.1f} ms")
        table.add_row("replicas at most", str(step["max_replicas"]))
        table.add_row("failed requests", str(step["failures"]))
        console.print(table)
    state = Path(tempfile.mkdtemp(prefix="modelwatch-bench-capacity-"))
    ensure_model(config_in(state))
    results["capacity"] = rows = capacity(state, [int(x) for x in args.levels.split(",")], args.seconds)
    table = Table(title=f"steady load with every replica running, {args.seconds:g} s per level")
    for column in ("offered requests/s", "achieved", "errors", "p95 ms", "SLO"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(str(row["offered_rps"]), f"{row['achieved_rps']:.0f}", f"{row['error_ratio']:.3%}",
                      f"{row['p95_seconds'] * 1000:.0f}", "met" if row["slo_met"] else "BROKEN")
    console.print(table)
    held = [row["achieved_rps"] for row in rows if row["slo_met"]]
    console.print(f"highest rate within the SLO: {max(held):.0f} requests/s" if held else "no level met the SLO")
    write_results(args.out, results, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
