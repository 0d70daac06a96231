"""Service benchmark: side by side, interleaved, on loopback.

    python -m bench.service [--rounds 6] [--duration 8] [--only reference,instrumented] [--breakdown]

Each round starts every variant in turn (the order rotates from round to
round) on one pinned core (taskset -c 0),
warms it up, and drives it with wrk on the other core (32 connections, one
thread); medians over rounds are compared as ratios, since this machine is
shared and noisy. Then /metrics of the instrumented service is timed after
100k requests. Prints a table and writes bench/results/service.json.

Variants: (a) reference: bare Flask + scikit-learn, no metrics; (b) our
service, instrumentation off; (c) our service, fully instrumented; (d) MLServer
1.7.1 (parallel_workers 2 and 0); (e) BentoML 1.4. All serve the same fitted
model with 2 workers (gunicorn gthread: 4 threads each for (a), modelwatch's
default of 2 for (b) and (c)).

--breakdown adds (c) with one suspected source of tail latency changed each:
the heap not frozen after loading, kept-alive connections never recycled or
recycled every 1,000 requests instead of 100, 4 threads a worker (the
default until 2026-12-02), the gRPC
server off, and behind the local edge (HAProxy); ``--only`` picks some of
them by name. Each variant's p99 is compared with (a)'s of the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from rich.console import Console
from rich.table import Table

from bench.output import write_results
from bench import closed_loop, competitors
from modelwatch.local.edge import haproxy_config
from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.training import train
from modelwatch.core.config import load_config

CONNECTIONS = 32
QUERY = "sl=5.1&sw=3.5&pl=1.4&pw=0.3"
SERVER_CORE, LOAD_CORE = "0", "1"
SETTLE_SECONDS = 1.5  # after a drained load: the metrics' write-behind flush runs every second
BREAKDOWN = ("instrumented-nofreeze", "instrumented-norecycle", "instrumented-recycle1000", "instrumented-threads4",
             "instrumented-nogrpc", "instrumented-edge")
console = Console()


@dataclass
class Variant:
    name: str
    label: str
    command: list[str]
    path: str
    env: dict = field(default_factory=dict)
    body: dict | None = None
    cwd: str | None = None


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wrk_script(variant: Variant, folder: Path) -> list[str]:
    if variant.body is None:
        return []
    script = folder / f"{variant.name}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(variant.body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return ["-s", str(script)]


def parse_wrk(output: str) -> dict:
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {}
    for pct, number, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M):
        latency[f"p{pct}_ms"] = float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*", output)
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))
    return {"rps": rate, **latency, "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(0) if socket_errors else "", "requests": requests_done}


def _proc_stats() -> dict[int, list[str]]:
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            stats[int(stat.parent.name)] = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
    return stats


def process_tree(root: int, stats: dict[int, list[str]] | None = None) -> set[int]:
    """``root`` and all its live descendants (servers that start their workers in new sessions too)."""
    stats = _proc_stats() if stats is None else stats
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, fields in stats.items() if int(fields[1]) == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return tree & set(stats)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of the live processes of a server: the master and its workers."""
    stats = _proc_stats()
    ticks = sum(int(stats[pid][11]) + int(stats[pid][12]) for pid in process_tree(root, stats))
    return ticks / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, seconds: float, extra: list[str]) -> dict:
    command = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency", *extra, url]
    return parse_wrk(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


class Running:
    def __init__(self, variant: Variant, port: int, log: Path):
        env = dict(os.environ, **variant.env)
        self.log = open(log, "w")
        self.process = subprocess.Popen(["taskset", "-c", SERVER_CORE, *variant.command], env=env, cwd=variant.cwd,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}{variant.path}"
        self.variant = variant

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.variant.name} exited; see {self.log.name}")
            try:
                if self.variant.body is None:
                    ok = requests.get(self.url, timeout=2).status_code == 200
                else:
                    ok = requests.post(self.url, json=self.variant.body, timeout=2).status_code == 200
                if ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.variant.name} not ready after {timeout} s; see {self.log.name}")

    def stop(self) -> None:
        """Stop the server and every process it started; the next variant starts on a quiet core."""
        tree = process_tree(self.process.pid) if self.process.poll() is None else set()
        for pid in tree:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 30
        while (alive := tree & set(_proc_stats())) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in alive:
            os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait()
        self.log.close()
        time.sleep(1)


def _joblib_copy(skops_file: Path, work: Path) -> Path:
    """The registered model as the joblib file the bare app and the competitors load."""
    import joblib
    import skops.io

    joblib_file = work / "model.joblib"
    joblib.dump(skops.io.load(skops_file), joblib_file)  # our own file, just registered: trusted
    return joblib_file


def _behind_edge(serve: Variant, port: int, work: Path) -> Variant:
    """``serve`` on a unix socket, with the local stack's HAProxy in front on ``port``: one process tree."""
    socket = work / "edge" / "service.sock"
    socket.parent.mkdir(exist_ok=True)
    env = {**serve.env, "MODELWATCH_SERVICE__SOCKET": str(socket), "MODELWATCH_EDGE__METRICS_PORT": str(free_port())}
    edge_config = work / "edge" / "haproxy.cfg"
    edge_config.write_text(haproxy_config(load_config(env={**env, "MODELWATCH_SERVICE__PORT": str(port)}), socket))
    command = ["sh", "-c", f'haproxy -db -f {edge_config} & exec "$@"', "sh", *serve.command]
    return Variant("instrumented-edge", "(c) behind the edge (HAProxy)", command, serve.path, env=env)


def build_variants(work: Path, only: set[str] | None, breakdown: bool = False) -> list[tuple[Variant, int]]:
    state = work / "state"
    config_env = {"MODELWATCH_PATHS__STATE_DIR": str(state)}
    config = load_config(env=config_env)
    train(config)
    key = KeyStore(config.paths.keys_file).add("bench")
    model_file = _joblib_copy(config.paths.registry_dir / config.model.name / "v1" / "model.skops", work)
    gunicorn = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "2", "--threads", "4", "--log-level", "warning"]
    variants = []

    def add(name, label, make):
        if only and name not in only:
            return
        port = free_port()
        try:
            variants.append((make(port), port))
        except subprocess.CalledProcessError as exc:
            console.print(f"[yellow]skipping {name}: its virtual environment could not be built ({exc})")

    add("reference", "(a) bare Flask + sklearn", lambda port: Variant(
        "reference", "(a) bare Flask + sklearn", [*gunicorn, "-b", f"127.0.0.1:{port}", "bench.reference_app:app"],
        f"/api/v1/classify?{QUERY}", env={"MODELWATCH_BENCH_MODEL": str(model_file)}, cwd=str(Path.cwd())))
    for name, label, on in (("uninstrumented", "(b) modelwatch, metrics off", "false"),
                            ("instrumented", "(c) modelwatch, full metrics", "true")):
        add(name, label, lambda port, name=name, label=label, on=on: Variant(
            name, label, [sys.executable, "-m", "modelwatch", "serve", "--port", str(port)],
            f"/api/v1/classify?{QUERY}&key={key}",
            env={**config_env, "MODELWATCH_SERVICE__INSTRUMENTATION": on,
                 "MODELWATCH_PATHS__STATE_DIR": str(work / name)}))
    # (c) with one suspected source of its tail changed each (they share (c)'s state folder)
    if breakdown or (only and only & set(BREAKDOWN)):
        serve = [sys.executable, "-m", "modelwatch", "serve"]
        instrumented_env = {**config_env, "MODELWATCH_PATHS__STATE_DIR": str(work / "instrumented")}
        for name, label, setting in (
                ("instrumented-nofreeze", "(c) heap not frozen", {"MODELWATCH_SERVICE__FREEZE_HEAP": "false"}),
                ("instrumented-norecycle", "(c) connections never recycled",
                 {"MODELWATCH_SERVICE__KEEPALIVE_MAX_REQUESTS": str(10**9)}),
                # a recycled connection's next request waits for a reconnect and an accept: 1 % of them at 100
                ("instrumented-recycle1000", "(c) connections recycled every 1,000 requests",
                 {"MODELWATCH_SERVICE__KEEPALIVE_MAX_REQUESTS": "1000"}),
                ("instrumented-threads4", "(c) 4 threads a worker", {"MODELWATCH_SERVICE__THREADS": "4"}),
                ("instrumented-nogrpc", "(c) gRPC server off", {"MODELWATCH_SERVICE__GRPC_PORT": "0"})):
            add(name, label, lambda port, name=name, label=label, setting=setting: Variant(
                name, label, [*serve, "--port", str(port)], f"/api/v1/classify?{QUERY}&key={key}",
                env={**instrumented_env, **setting}))
        add("instrumented-edge", "(c) behind the edge", lambda port: _behind_edge(Variant(
            "", "", serve, f"/api/v1/classify?{QUERY}&key={key}", env=instrumented_env), port, work))
    for workers, name in ((2, "mlserver"), (0, "mlserver-pw0")):
        def make(port, workers=workers, name=name):
            ports = (port, free_port(), free_port())  # HTTP, gRPC, metrics: each its own free port
            command, body = competitors.mlserver_setup(model_file, work / name, ports, workers)
            return Variant(name, f"(d) MLServer 1.7.1, parallel_workers={workers}", command,
                           "/v2/models/iris/infer", body=body)
        add(name, f"(d) MLServer parallel_workers={workers}", make)
    add("bentoml", "(e) BentoML 1.4", lambda port: Variant(
        "bentoml", "(e) BentoML 1.4 (2 workers)", competitors.bentoml_setup(work / "bentoml", port), "/classify",
        body=competitors.BODY, env={"MODELWATCH_BENCH_MODEL": str(model_file.resolve())}))
    # (b) and (c) serve from their own state folders holding the same trained registry and key.
    for name in ("uninstrumented", "instrumented"):
        subprocess.run(["cp", "-r", str(state), str(work / name)], check=True)
    return variants


def measure_scrape(variant: Variant, port: int, work: Path, target_requests: int = 100_000) -> dict:
    running = Running(variant, port, work / "scrape.log")
    try:
        running.wait_ready()
        sent = 0
        while sent < target_requests:
            sent += run_wrk(running.url, 10, [])["requests"]
        session = requests.Session()
        times = []
        for _ in range(30):
            started = time.perf_counter()
            response = session.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            times.append((time.perf_counter() - started) * 1e3)
            assert response.status_code == 200
        return {"requests_before": sent, "median_ms": statistics.median(times), "max_ms": max(times),
                "bytes": len(response.content)}
    finally:
        running.stop()


def run_drained(variant: Variant, url: str, seconds: float, work: Path) -> dict:
    """``bench.closed_loop`` on the load core: the run ends when every request sent is answered."""
    if variant.body is None:
        raise ValueError(f"{variant.name}: a drained load POSTs a body, and this variant has none")
    body = work / f"{variant.name}.json"
    body.write_text(json.dumps(variant.body))  # every time, as wrk_script: one name can carry several sizes
    command = ["taskset", "-c", LOAD_CORE, sys.executable, "-m", "bench.closed_loop", "--body", str(body),
               "--seconds", f"{seconds:g}", "--connections", str(CONNECTIONS)]
    # the URL carries the API key: in the environment, not on the command line every user can read
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, closed_loop.URL_VARIABLE: url},
                          cwd=Path(__file__).resolve().parent.parent)
    if done.returncode:
        raise RuntimeError(f"{variant.name}: {(done.stderr.strip().splitlines() or ['closed loop failed'])[-1]}")
    return json.loads(done.stdout)


def run_rounds(variants: list[tuple[Variant, int]], rounds: int, duration: float, work: Path,
               drained: bool = False) -> dict[str, list[dict]]:
    """Each round starts every variant in turn, warms it up and loads it; the order rotates from round to round.

    ``drained`` loads with ``bench.closed_loop`` instead of wrk (requests long enough that the ones wrk
    leaves in flight would skew the window), and counts the CPU of the write-behind flush after the last
    answer (``SETTLE_SECONDS``) for every variant alike."""
    results: dict[str, list[dict]] = {v.name: [] for v, _ in variants}
    for round_no in range(1, rounds + 1):
        # Rotate the order each round, so no variant always follows the same one.
        shift = (round_no - 1) % len(variants)
        for variant, port in variants[shift:] + variants[:shift]:
            with console.status(f"round {round_no}/{rounds}: {variant.label}"):
                running = Running(variant, port, work / f"{variant.name}.log")
                try:
                    try:
                        running.wait_ready()
                    except RuntimeError as exc:  # one broken competitor must not sink the run
                        console.print(f"[red]round {round_no}: {exc}")
                        continue
                    if drained:
                        run_drained(variant, running.url, 2, work)  # warm-up
                        time.sleep(SETTLE_SECONDS)
                        cpu_before = tree_cpu_seconds(running.process.pid)
                        result = run_drained(variant, running.url, duration, work)
                        time.sleep(SETTLE_SECONDS)
                    else:
                        run_wrk(running.url, 2, wrk_script(variant, work))  # warm-up
                        cpu_before = tree_cpu_seconds(running.process.pid)
                        result = run_wrk(running.url, duration, wrk_script(variant, work))
                    # CPU per request is steadier than req/s on a shared machine.
                    result["cpu_us_per_request"] = (tree_cpu_seconds(running.process.pid) - cpu_before) / result["requests"] * 1e6
                    result["round"] = round_no
                    results[variant.name].append(result)
                finally:
                    running.stop()
    return results


def summarise(variants: list[tuple[Variant, int]], results: dict[str, list[dict]]) -> dict[str, dict]:
    """Medians over rounds per variant (variants that never answered are left out)."""
    summary = {}
    for variant, _ in variants:
        runs = results[variant.name]
        if not runs:
            continue
        summary[variant.name] = {
            "label": variant.label,
            "rps_median": statistics.median(r["rps"] for r in runs),
            "p50_ms_median": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms_median": statistics.median(r["p99_ms"] for r in runs),
            "cpu_us_per_request_median": statistics.median(r["cpu_us_per_request"] for r in runs),
            "non_2xx": sum(r["non_2xx"] for r in runs),
            "runs": runs,
        }
    return summary


def paired_ratio(results: dict[str, list[dict]], numerator: str, denominator: str, key: str = "rps") -> float | None:
    """Median over rounds of numerator / denominator, each pair measured in the same round.

    Neighbours of a minute apart share the machine's load of that minute, so the ratio of a pair
    is much steadier on a shared machine than the ratio of two medians taken over the whole run.
    """
    by_round = {r["round"]: r[key] for r in results.get(denominator, [])}
    ratios = [r[key] / by_round[r["round"]] for r in results.get(numerator, []) if by_round.get(r["round"])]
    return statistics.median(ratios) if ratios else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=8, help="seconds of load per variant and round")
    parser.add_argument("--only", help="comma-separated variant names")
    parser.add_argument("--breakdown", action="store_true",
                        help="add (c) variants that each change one suspected source of tail latency")
    parser.add_argument("--out", type=Path, default=Path("bench/results/service.json"))
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) | ({"instrumented", *BREAKDOWN} if args.breakdown else set()) if args.only else None

    work = Path(tempfile.mkdtemp(prefix="modelwatch-bench-"))
    with console.status("building variants (first run creates MLServer and BentoML venvs)"):
        variants = build_variants(work, only, args.breakdown)
    results = run_rounds(variants, args.rounds, args.duration, work)
    summary = summarise(variants, results)
    scrape = None
    instrumented = next(((v, p) for v, p in variants if v.name == "instrumented"), None)
    if instrumented:
        with console.status("timing /metrics after 100k requests"):
            scrape = measure_scrape(*instrumented, work)

    def rps(name):
        return summary.get(name, {}).get("rps_median")

    targets = []

    def target(text, value, goal, higher=True):
        if value is not None:
            targets.append({"target": text, "value": round(value, 3), "goal": goal, "higher": higher,
                            "met": value >= goal if higher else value < goal})

    c = rps("instrumented")
    if c:
        target("(c) / (b), median of per-round pairs", paired_ratio(results, "instrumented", "uninstrumented"), 0.97)
        target("(c) / (b) by CPU per request, per-round pairs",
               paired_ratio(results, "uninstrumented", "instrumented", "cpu_us_per_request"), 0.97)
        target("(c) / (a)", c / rps("reference") if rps("reference") else None, 1.2)
        mlserver_best = max(filter(None, (rps("mlserver"), rps("mlserver-pw0"))), default=None)
        target("(c) / best MLServer", c / mlserver_best if mlserver_best else None, 1.4)
        target("(c) / BentoML", c / rps("bentoml") if rps("bentoml") else None, 3.0)
        target("(c) p99 ms at 32 connections", summary["instrumented"]["p99_ms_median"], 50, higher=False)
        target("(c) p99 / (a) p99, median of per-round pairs",
               paired_ratio(results, "instrumented", "reference", "p99_ms"), 1.0, higher=False)
    if scrape:
        target("/metrics scrape ms after 100k requests", scrape["median_ms"], 5, higher=False)

    table = Table(title=f"service benchmark: medians of {args.rounds} interleaved rounds, {args.duration:g} s each, "
                        f"{CONNECTIONS} connections, server on core {SERVER_CORE}")
    for column in ("variant", "req/s", "vs (a)", "p50 ms", "p99 ms", "p99 / (a)'s, paired", "CPU µs/req", "non-2xx"):
        table.add_column(column, justify="right" if column != "variant" else "left")
    base = rps("reference")
    for name, row in summary.items():
        row["p99_vs_reference_paired"] = paired_ratio(results, name, "reference", "p99_ms")
        table.add_row(row["label"], f"{row['rps_median']:.0f}", f"{row['rps_median'] / base:.2f}x" if base else "-",
                      f"{row['p50_ms_median']:.2f}", f"{row['p99_ms_median']:.2f}",
                      f"{row['p99_vs_reference_paired']:.2f}" if row["p99_vs_reference_paired"] else "-",
                      f"{row['cpu_us_per_request_median']:.0f}", str(row["non_2xx"]))
    console.print(table)
    goals = Table(title="targets")
    for column in ("target", "value", "goal", "met"):
        goals.add_column(column)
    for t in targets:
        goals.add_row(t["target"], str(t["value"]), ("≥ " if t["higher"] else "< ") + str(t["goal"]),
                      "yes" if t["met"] else "NO")
    console.print(goals)
    if scrape:
        console.print(f"/metrics after {scrape['requests_before']} requests: median {scrape['median_ms']:.2f} ms, "
                      f"{scrape['bytes']} bytes")
    write_results(args.out, {"variants": summary, "scrape": scrape, "targets": targets,
                                    "rounds": args.rounds, "duration_seconds": args.duration,
                                    "connections": CONNECTIONS}, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
