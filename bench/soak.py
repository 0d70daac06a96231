"""Soak: the real local stack under a steady load for a long time, with faults.

    python -m bench.soak [--minutes 30] [--rps R] [--kill-every 300]

``modelwatch up`` (edge, service, exporter, Prometheus, Alertmanager, autoscaler,
supervisor), then Locust at a steady rate — by default 70 % of the highest rate
``python -m bench.stack`` held within the SLO (bench/results/stack.json), else 200
requests/s — for ``--minutes``. One gunicorn worker is SIGKILLed every
``--kill-every`` seconds, and half way a new version is trained and switched in as a
10 % canary. Before the load, after a warm-up (a tenth of the run, at least a
minute), every minute and at the end it takes stock: resident memory of every
process (the workers as their mean: they are replaced), open file descriptors,
the metric files' count and bytes, Prometheus's head series. Targets: no failed
request beyond those the killed workers had in flight (the service counts those
as 500s, F6), memory growth after the warm-up under 5 %, files and descriptors
bounded. The minute samples tell a leak, which keeps growing, from a level
reached once (a pool's busiest moment, the canary's series): the growth over the
last half of the run is printed beside the growth after the warm-up.

Prints a table and writes bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import tempfile
import time
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from bench.output import write_results
from bench.stack import RATE_PER_USER, config_in
from modelwatch.core.prometheus_api import PrometheusApi
from modelwatch.local.stack import Stack, ensure_model
from modelwatch.loadtests.runner import LoadRun, client_figures, start
from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.training import train
from modelwatch.models.registry import Deployment, Registry

console = Console()
DEFAULT_RPS = 200.0
SAMPLE_SECONDS = 60.0
SETTLE_SECONDS = 120.0


def default_rps(results: Path = Path("bench/results/stack.json")) -> float:
    """70 % of the highest rate bench.stack held within the SLO on this machine."""
    try:
        rows = json.loads(results.read_text())["capacity"]
        return 0.7 * max(row["achieved_rps"] for row in rows if row["slo_met"])
    except (OSError, ValueError, KeyError):
        return DEFAULT_RPS


def stock(stack: Stack, prometheus: PrometheusApi, multiproc_dir: Path) -> dict:
    """Memory and descriptors per component, metric files, Prometheus's series: one snapshot."""
    processes: dict[str, list[psutil.Process]] = {}
    for name, pid in stack.running().items():
        try:
            process = psutil.Process(pid)
            processes[name] = [process]
            if name == "service":
                processes["service workers"] = process.children()
        except psutil.NoSuchProcess:
            continue
    memory, descriptors = {}, {}
    for name, group in processes.items():
        alive = [p for p in group if p.is_running()]
        try:
            memory[name] = sum(p.memory_info().rss for p in alive) / max(1, len(alive))
            descriptors[name] = sum(p.num_fds() for p in alive) / max(1, len(alive))
        except psutil.NoSuchProcess:
            continue
    files = list(multiproc_dir.iterdir()) if multiproc_dir.exists() else []
    series = prometheus.query("prometheus_tsdb_head_series")
    return {"rss_bytes": memory, "fds": descriptors, "workers": len(processes.get("service workers", [])),
            "metric_files": len(files),
            "metric_bytes": sum(f.stat().st_size for f in files if f.exists()),
            "prometheus_head_series": series[0].value if series else None}


def soak(minutes: float, rps: float, kill_every: float) -> dict:
    state = Path(tempfile.mkdtemp(prefix="modelwatch-bench-soak-"))
    config = config_in(state)
    ensure_model(config)
    stack = Stack(config)
    stack.up()
    prometheus = PrometheusApi.from_config(config)
    seconds = minutes * 60
    try:
        before = stock(stack, prometheus, config.paths.multiproc_dir)
        url = f"http://{config.service.host}:{config.service.port}"
        key = KeyStore(config.paths.keys_file).renew("loadtest")
        run = LoadRun("steady", max(1, round(rps / RATE_PER_USER)), seconds, url, key, state / "soak", RATE_PER_USER)
        load = start(run, config)
        began = time.monotonic()
        warm_up, next_kill, switched, kills = max(60.0, seconds / 10), kill_every, False, 0
        warmed, timeline, events, next_sample = None, [], [], 0.0
        while load.poll() is None:
            elapsed = time.monotonic() - began
            if warmed is None and elapsed >= warm_up:
                warmed = stock(stack, prometheus, config.paths.multiproc_dir)
            if elapsed >= next_sample:
                timeline.append({"elapsed": round(elapsed), **stock(stack, prometheus, config.paths.multiproc_dir)})
                next_sample += SAMPLE_SECONDS
            if elapsed >= next_kill and elapsed < seconds - 30:
                workers = psutil.Process(stack.running()["service"]).children()
                if workers:
                    os.kill(random.choice(workers).pid, signal.SIGKILL)
                    kills += 1
                    events.append({"elapsed": round(elapsed), "event": "worker killed"})
                next_kill += kill_every
            if not switched and elapsed >= seconds / 2:
                version = train(config).version  # registers the next version, as modelwatch train does
                Registry(config.paths.registry_dir, config.model.name).set_deployment(
                    Deployment(stable="v1", canary=version, canary_weight=0.1))
                switched = True
                events.append({"elapsed": round(elapsed), "event": f"canary {version} switched in"})
            time.sleep(1)
        after = stock(stack, prometheus, config.paths.multiproc_dir)
        client = client_figures(run)
    finally:
        stack.down()
    lost = _killed_in_flight(config.paths.state_dir / "log" / "service.log")
    return {"minutes": minutes, "offered_rps": rps, "kills": kills, "canary_switched": switched,
            "requests": client["requests"], "failed": client["failures"], "killed_in_flight": lost,
            "achieved_rps": client["requests_per_second"], "p95_seconds": client["p95_seconds"],
            "before": before, "after_warm_up": warmed, "end": after, "timeline": timeline, "events": events}


def _killed_in_flight(log: Path) -> int:
    """Requests the killed workers had in flight, as the master logged them (F6)."""
    count = 0
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        if "request(s) in flight; counted as 500s" in line:
            count += int(line.split(" died with ")[1].split()[0])
    return count


def growth(result: dict) -> dict[str, float]:
    """Memory growth per component from the end of the warm-up to the end, as a fraction."""
    start_, end = (result["after_warm_up"] or result["before"])["rss_bytes"], result["end"]["rss_bytes"]
    return {name: end[name] / start_[name] - 1 for name in end if start_.get(name)}


def late_growth(result: dict) -> dict[str, float]:
    """Memory growth per component over the run's last half: from the first minute sample
    ``SETTLE_SECONDS`` after half the run (the canary's switch: its version loaded, its series scraped)
    to the end. A leak grows here as it grew before; a level reached once (a pool's busiest moment, the
    canary's version) does not."""
    half = result["minutes"] * 30 + SETTLE_SECONDS
    start_ = next((s for s in result.get("timeline", []) if s["elapsed"] >= half), None)
    if start_ is None:
        return {}
    end = result["end"]["rss_bytes"]
    return {name: end[name] / start_["rss_bytes"][name] - 1 for name in end if start_["rss_bytes"].get(name)}


def per_series(stage: dict | None) -> float | None:
    """Prometheus's resident bytes per head series: its memory grows with the series by design (the canary
    adds its version's half way), so a leak shows here, not in its RSS alone."""
    series = (stage or {}).get("prometheus_head_series")
    rss = (stage or {}).get("rss_bytes", {}).get("prometheus")
    return rss / series if rss and series else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rps", type=float, default=None, help="offered requests/s (default: 70%% of capacity)")
    parser.add_argument("--kill-every", type=float, default=300, help="seconds between worker kills")
    parser.add_argument("--out", type=Path, default=Path("bench/results/soak.json"))
    args = parser.parse_args(argv)
    rps = args.rps or default_rps()
    with console.status(f"soaking {args.minutes:g} minutes at {rps:.0f} requests/s"):
        result = soak(args.minutes, rps, args.kill_every)
    result["rss_growth_after_warm_up"] = growth(result)
    result["rss_growth_last_half"] = late_growth(result)
    warmed_per_series, end_per_series = per_series(result["after_warm_up"]), per_series(result["end"])
    result["prometheus_bytes_per_head_series_growth"] = (end_per_series / warmed_per_series - 1
                                                         if warmed_per_series and end_per_series else None)
    table = Table(title=f"soak: {args.minutes:g} min at {rps:.0f} requests/s offered, {result['kills']} worker kills, "
                        f"canary switched: {result['canary_switched']}")
    for column in ("measure", "before", "after warm-up", "end", "target", "last half"):
        table.add_column(column, justify="right")
    table.add_row("failed requests", "", "", str(result["failed"]),
                  f"<= {result['killed_in_flight']} (killed in flight)", "")
    stages = [result["before"], result["after_warm_up"] or result["before"], result["end"]]
    for name in sorted(result["end"]["rss_bytes"]):
        cells = [f"{s['rss_bytes'].get(name, 0) / 2**20:.1f} MiB" for s in stages]
        late = result["rss_growth_last_half"].get(name)
        table.add_row(f"RSS {name}", *cells, f"{result['rss_growth_after_warm_up'].get(name, 0):+.1%} (< +5%)",
                      f"{late:+.1%}" if late is not None else "-")
    per_series_growth = result["prometheus_bytes_per_head_series_growth"]
    table.add_row("Prometheus RSS per head series",
                  *[f"{value / 1024:.1f} KiB" if value else "-" for value in map(per_series, stages)],
                  f"{per_series_growth:+.1%} (< +5%)" if per_series_growth is not None else "-", "")
    for key, label in (("workers", "service workers (autoscaled)"), ("metric_files", "metric files"),
                       ("metric_bytes", "metric bytes"),
                       ("prometheus_head_series", "Prometheus head series")):
        table.add_row(label, *[str(s[key]) for s in stages], "bounded", "")
    for name in sorted(result["end"]["fds"]):
        table.add_row(f"fds {name}", *[f"{s['fds'].get(name, 0):.0f}" for s in stages], "bounded", "")
    console.print(table)
    console.print(f"{result['requests']} requests, {result['achieved_rps']:.0f}/s achieved, "
                  f"p95 {result['p95_seconds'] * 1000:.0f} ms")
    write_results(args.out, result, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
