"""Exporter benchmark: our host collector side by side with node_exporter, and
the docker collector with 1, 50 and 200 running containers, and how its cost
grows with them.

    python -m bench.exporter [--scrapes 200] [--rounds 3] [--containers 1,50,200]

Both exporters run pinned to core 0 (node_exporter with only the collectors
that match ours: cpu, meminfo, filesystem, diskstats, netdev, loadavg, stat);
the scraper runs on core 1 and alternates between them each round. Reports
scrape latency p50/p99, CPU per scrape (from /proc), the CPU share of one core
at a 15 s scrape interval, and resident memory. Prints a table and writes
bench/results/exporter.json.

The container part needs a running Docker engine (``dockerd --bridge=none
--iptables=false``) and an image with ``sleep`` (the tests import
``modelwatch-busybox:test`` from Debian's busybox-static). dockerd's own CPU is
not counted: only the exporter's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from bench.output import write_results
from pathlib import Path

import requests
from rich.console import Console
from rich.table import Table

from bench.service import free_port, process_tree, tree_cpu_seconds

SERVER_CORE, LOAD_CORE = "0", "1"
NODE_EXPORTER_COLLECTORS = ("cpu", "meminfo", "filesystem", "diskstats", "netdev", "loadavg", "stat")
console = Console()


def start(name: str, port: int, state: Path, env_extra: dict | None = None) -> subprocess.Popen:
    if name == "node_exporter":
        binary = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
        if binary is None:
            raise SystemExit("node_exporter is missing: apt-get install prometheus-node-exporter")
        command = [binary, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
                   *(f"--collector.{c}" for c in NODE_EXPORTER_COLLECTORS)]
    else:
        collector = "docker" if name.startswith("modelwatch docker") else "host"
        command = [sys.executable, "-m", "modelwatch", "exporter", "--port", str(port), "--collectors", collector]
    env = dict(os.environ, MODELWATCH_PATHS__STATE_DIR=str(state), **(env_extra or {}))
    process = subprocess.Popen(["taskset", "-c", SERVER_CORE, *command], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not start")


def rss_bytes(root: int) -> int:
    page = os.sysconf("SC_PAGE_SIZE")
    return sum(int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page for pid in process_tree(root))


def measure(url: str, root: int, scrapes: int) -> dict:
    session = requests.Session()
    for _ in range(5):
        session.get(url, timeout=10)  # warm-up
    cpu_before = tree_cpu_seconds(root)
    latencies = []
    for _ in range(scrapes):
        started = time.perf_counter()
        response = session.get(url, timeout=10)
        latencies.append((time.perf_counter() - started) * 1e3)
        assert response.status_code == 200
    cpu_ms = (tree_cpu_seconds(root) - cpu_before) / scrapes * 1e3
    latencies.sort()
    return {"p50_ms": statistics.median(latencies), "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
            "cpu_ms_per_scrape": cpu_ms, "rss_mb": rss_bytes(root) / 2**20, "series": response.text.count("\n")}


def container_runs(counts: list[int], scrapes: int, state: Path) -> dict[str, dict]:
    """Scrape the docker collector with N sleeping containers running, for each N."""
    import uuid

    import docker

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception:
        console.print("[yellow]no Docker engine answers: skipping the container part")
        return {}
    image = next((i for i in ("modelwatch-busybox:test", "busybox") if client.images.list(name=i)), None)
    if image is None:
        console.print("[yellow]no image with sleep (run the tests once to import modelwatch-busybox:test)")
        return {}
    results = {}
    for count in counts:
        label = f"modelwatch.bench={uuid.uuid4().hex[:8]}"
        containers = []
        try:
            with console.status(f"starting {count} containers"):
                for _ in range(count):
                    containers.append(client.containers.run(image, ["sleep", "3600"], detach=True,
                                                            network_mode="none", labels=dict([label.split("=")])))
            name, port = f"modelwatch docker, {count} containers", free_port()
            process = start(name, port, state, {"MODELWATCH_EXPORTER__DOCKER_LABEL_FILTER": label})
            try:
                with console.status(f"scraping: {name}"):
                    results[name] = measure(f"http://127.0.0.1:{port}/metrics", process.pid, scrapes)
                with console.status(f"idle for 15 s: {name}"):
                    # Whatever runs between scrapes (the engine's events thread) counts too.
                    idle_before = tree_cpu_seconds(process.pid)
                    time.sleep(15)
                    results[name]["idle_cpu_share"] = (tree_cpu_seconds(process.pid) - idle_before) / 15
            finally:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(10)
        finally:
            for container in containers:
                container.remove(force=True)
    return results


def cpu_share(row: dict) -> float:
    """Share of one core with a scrape every 15 s: background work plus the scrape itself."""
    return row.get("idle_cpu_share", 0.0) + row["cpu_ms_per_scrape"] / 15_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.exporter", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--containers", default="1,50,200", help="container counts for the docker part ('' skips it)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/exporter.json"))
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {int(LOAD_CORE)})  # the scraper stays off the exporters' core
    state = Path(tempfile.mkdtemp(prefix="modelwatch-bench-exporter-"))
    names = ["modelwatch host", "node_exporter"]
    ports = {name: free_port() for name in names}
    processes = {name: start(name, ports[name], state) for name in names}
    runs: dict[str, list[dict]] = {name: [] for name in names}
    try:
        for round_no in range(args.rounds):
            for name in names if round_no % 2 == 0 else names[::-1]:
                with console.status(f"round {round_no + 1}/{args.rounds}: {name}"):
                    runs[name].append(measure(f"http://127.0.0.1:{ports[name]}/metrics", processes[name].pid,
                                              args.scrapes))
    finally:
        for process in processes.values():
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
    summary = {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for name, rs in runs.items()}
    counts = [int(c) for c in args.containers.split(",") if c.strip()]
    summary.update(container_runs(counts, max(20, args.scrapes // 5), state))
    table = Table(title=f"exporters: host rows are medians of {args.rounds} rounds of {args.scrapes} scrapes; "
                        f"server on core {SERVER_CORE}")
    for column in ("exporter", "p50 ms", "p99 ms", "CPU ms/scrape", "CPU share, 15 s scrapes", "RSS MB", "lines"):
        table.add_column(column, justify="left" if column == "exporter" else "right")
    for name, row in summary.items():
        table.add_row(name, f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}", f"{row['cpu_ms_per_scrape']:.2f}",
                      f"{cpu_share(row):.3%}", f"{row['rss_mb']:.1f}", f"{row['series']:.0f}")
    console.print(table)
    ratio = summary["modelwatch host"]["cpu_ms_per_scrape"] / summary["node_exporter"]["cpu_ms_per_scrape"]
    console.print(f"host collector CPU per scrape = {ratio:.2f}x node_exporter's (target: at most 3x)")
    docker = {int(name.split(", ")[1].split()[0]): row for name, row in summary.items()
              if name.startswith("modelwatch docker")}
    for count, row in docker.items():
        console.print(f"docker, {count} containers: p99 {row['p99_ms']:.1f} ms (target < 50), CPU with 15 s scrapes "
                      f"{cpu_share(row):.3%} of a core (target <= 0.5%), RSS {row['rss_mb']:.0f} MB (< 80)")
    growth = {}
    if len(docker) > 1:
        fewest, most = min(docker), max(docker)
        growth = {"containers": [fewest, most],
                  "cpu_per_scrape": docker[most]["cpu_ms_per_scrape"] / docker[fewest]["cpu_ms_per_scrape"],
                  "p99": docker[most]["p99_ms"] / docker[fewest]["p99_ms"],
                  "rss": docker[most]["rss_mb"] / docker[fewest]["rss_mb"],
                  "cpu_ms_per_container": (docker[most]["cpu_ms_per_scrape"] - docker[fewest]["cpu_ms_per_scrape"])
                  / (most - fewest)}
        console.print(f"growth from {fewest} to {most} containers ({most / fewest:.0f}x): CPU per scrape "
                      f"{growth['cpu_per_scrape']:.1f}x, p99 {growth['p99']:.1f}x, RSS {growth['rss']:.2f}x; "
                      f"{growth['cpu_ms_per_container']:.3f} ms of CPU per container per scrape")
    write_results(args.out, {"summary": summary, "runs": runs, "cpu_ratio_vs_node_exporter": ratio,
                             "docker_growth": growth}, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
