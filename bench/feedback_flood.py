"""Feedback flood: one client sending labels as fast as a labelling backlog
would (10,000 items a second by default) while the API answers predictions.

    python -m bench.feedback_flood [--rounds 5] [--seconds 10] [--items-per-second 10000]
                                   [--max-labels-per-second N]

The real service (gunicorn, 2 workers, fully instrumented) with the Iris model.
First enough real predictions are made (1,000-row batches) for every label of
the run to name a prediction of its own. Then rounds alternate: the API's p99
under a steady load well below capacity (wrk, 4 connections, a request each
every 5 ms at most), alone and with the flood — one client, kept-alive, posting
1,000 labels per request at the given rate, for the round's length (bounded in
time), not slowing down when refused — so the machine's drift falls on both.
The service keeps its configured label budget (``feedback.max_labels_per_second``
per worker; ``--max-labels-per-second 0`` takes the flood whole): what it
refuses is counted as throttled requests. Measured: the prediction p99 of
each pair and their ratio (median over rounds), the labels accepted per second,
the flood's own latency, the service's resident memory (master, workers and
their label processes) and record file before the floods and after each, and
the CPU a thousand labels cost the workers (flooded minus quiet halves) and the
label processes. Targets: p99 up by 10 % at most; memory bounded (not growing
with the labels counted).

Prints a table and writes bench/results/feedback-flood.json.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import psutil
import requests
from rich.console import Console
from rich.table import Table

from bench.output import write_results
from bench.service import free_port
from modelwatch.core.config import load_config
from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.training import train

console = Console()
ITEMS_PER_REQUEST = 1000
API_CONNECTIONS, API_DELAY_MS = 4, 5
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
ROW = [5.1, 3.5, 1.4, 0.2]


def api_p99(url: str, key: str, seconds: float, pace: Path) -> float:
    """The API's p99 in seconds under wrk's paced load."""
    out = subprocess.run(["wrk", "-t1", f"-c{API_CONNECTIONS}", f"-d{seconds:g}s", "-s", str(pace), "--latency",
                          "-H", f"X-API-Key: {key}", url], capture_output=True, text=True, timeout=seconds + 60).stdout
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    return float(value) * UNITS[unit]


def mint_ids(base: str, key: str, count: int) -> list[str]:
    """Real prediction ids: 1,000-row batches predicted by the service."""
    ids: list[str] = []
    with requests.Session() as session:
        while len(ids) < count:
            answer = session.post(f"{base}/api/v1/models/iris/predict", json={"instances": [ROW] * ITEMS_PER_REQUEST},
                                  headers={"X-API-Key": key}, timeout=60)
            answer.raise_for_status()
            ids += [p["prediction_id"] for p in answer.json()["predictions"]]
    return ids[:count]


def label_bodies(ids: list[str], classes: list[str]) -> list[bytes]:
    """Encoded before the round, so the client's own work is sending."""
    return [orjson.dumps({"feedback": [{"id": token, "label": classes[i % len(classes)]}
                                       for i, token in enumerate(ids[start:start + ITEMS_PER_REQUEST])]})
            for start in range(0, len(ids), ITEMS_PER_REQUEST)]


class Flood(threading.Thread):
    """One client posting the bodies at ``items_per_second`` until they or the time run out."""

    def __init__(self, url: str, key: str, bodies: list[bytes], items_per_second: float, seconds: float):
        super().__init__(daemon=True)
        self.url, self.key, self.bodies = url, key, bodies
        self.interval = ITEMS_PER_REQUEST / items_per_second
        self.seconds = seconds
        self.accepted = self.requests = self.throttled = self.failed = 0
        self.latencies: list[float] = []
        self.elapsed = 0.0

    def run(self) -> None:
        headers = {"X-API-Key": self.key, "Content-Type": "application/json"}
        started = time.monotonic()
        with requests.Session() as session:
            for i, body in enumerate(self.bodies):
                due = started + i * self.interval
                if due - started >= self.seconds:
                    break
                time.sleep(max(0.0, due - time.monotonic()))
                sent = time.monotonic()
                try:
                    answer = session.post(self.url, data=body, headers=headers, timeout=30)
                    if answer.status_code == 200:
                        self.latencies.append(time.monotonic() - sent)  # of requests taken
                        self.accepted += answer.json()["accepted"]
                    elif answer.status_code == 429:  # over the label budget: refused whole, as a flood is
                        self.throttled += 1
                    else:
                        self.failed += 1
                except requests.RequestException:
                    self.failed += 1
                self.requests += 1
        self.elapsed = time.monotonic() - started


def service_memory(master: int) -> dict:
    """Resident memory of the master, its workers and their label processes (each kind as a sum)."""
    process = psutil.Process(master)
    workers = process.children()
    label_processes = [child for worker in workers for child in worker.children()]
    return {"master_mib": round(process.memory_info().rss / 2**20, 1),
            "workers_mib": round(sum(w.memory_info().rss for w in workers) / 2**20, 1),
            "label_processes_mib": round(sum(p.memory_info().rss for p in label_processes) / 2**20, 1)}


def cpu_seconds(master: int) -> dict:
    """CPU time so far of the workers and of their label processes (``model_service/label_process.py``)."""
    workers = psutil.Process(master).children()
    label_processes = [child for worker in workers for child in worker.children()]
    return {kind: sum(sum(p.cpu_times()[:2]) for p in processes)
            for kind, processes in (("workers", workers), ("label_processes", label_processes))}


def run(rounds: int, seconds: float, items_per_second: float, max_labels_per_second: float | None) -> dict:
    state = Path(tempfile.mkdtemp(prefix="modelwatch-bench-flood-"))
    env = dict(os.environ, MODELWATCH_PATHS__STATE_DIR=str(state))
    if max_labels_per_second is not None:
        env["MODELWATCH_FEEDBACK__MAX_LABELS_PER_SECOND"] = f"{max_labels_per_second:g}"
    config = load_config(env=env)
    with console.status("training the Iris model"):
        train(config)
    key = KeyStore(config.paths.keys_file).add("bench")
    port = free_port()
    log = open(state / "serve.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "modelwatch", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server)
        classes = _classes(base, key)
        per_round = int(items_per_second * seconds)
        with console.status(f"predicting {rounds * per_round:,} rows for their ids"):
            ids = mint_ids(base, key, rounds * per_round)
        pace = state / "pace.lua"
        pace.write_text(f"delay = function() return {API_DELAY_MS} end\n")
        api = f"{base}/api/v1/classify?sl=5.1&sw=3.5&pl=1.4&pw=0.3"
        api_p99(api, key, 3, pace)  # warm-up
        memory = [service_memory(server.pid)]
        rows = []
        worker_cpu = {"quiet": 0.0, "flooded": 0.0}
        label_cpu = 0.0
        for number in range(rounds):
            bodies = label_bodies(ids[number * per_round:(number + 1) * per_round], classes)
            with console.status(f"round {number + 1} of {rounds}: quiet, then flooded"):
                before = cpu_seconds(server.pid)
                quiet = api_p99(api, key, seconds, pace)
                between = cpu_seconds(server.pid)
                flood = Flood(f"{base}/api/v1/models/iris/feedback", key, bodies, items_per_second, seconds)
                flood.start()
                flooded = api_p99(api, key, seconds, pace)
                flood.join(120)
                after = cpu_seconds(server.pid)
            worker_cpu["quiet"] += between["workers"] - before["workers"]
            worker_cpu["flooded"] += after["workers"] - between["workers"]
            label_cpu += after["label_processes"] - between["label_processes"]
            memory.append(service_memory(server.pid))
            rows.append({"quiet_p99_ms": round(quiet * 1000, 2), "flooded_p99_ms": round(flooded * 1000, 2),
                         "ratio": round(flooded / quiet, 3),
                         "labels_accepted_per_second": round(flood.accepted / max(flood.elapsed, 1e-9)),
                         "flood_requests": flood.requests, "flood_throttled": flood.throttled,
                         "flood_failed": flood.failed,
                         "flood_p50_ms": round(statistics.median(flood.latencies) * 1000, 1) if flood.latencies else None,
                         "flood_max_ms": round(max(flood.latencies) * 1000, 1) if flood.latencies else None})
        record = config.paths.labelled_ids_file
        record_bytes = sum(p.stat().st_size for p in record.parent.glob(record.name + "*"))
    finally:
        server.terminate()
        server.wait(60)
        log.close()
    labels = max(1.0, sum(r["labels_accepted_per_second"] * seconds for r in rows))
    return {"rounds": rows, "items_per_second": items_per_second, "seconds": seconds,
            "max_labels_per_second_per_worker": config.feedback.max_labels_per_second, "workers": 2,
            "median_ratio": statistics.median(r["ratio"] for r in rows),
            "labels_accepted": sum(r["labels_accepted_per_second"] * seconds for r in rows),
            "memory": memory, "record_file_mib": round(record_bytes / 2**20, 1),
            # per 1,000 labels: what the floods added to the workers (the same predictions both halves) and
            # what the label processes spent
            "cpu_ms_per_1000_labels": {"workers": round(1e6 * (worker_cpu["flooded"] - worker_cpu["quiet"]) / labels, 2),
                                       "label_processes": round(1e6 * label_cpu / labels, 2)}}


def _wait_ready(base: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("modelwatch serve exited; see serve.log in the state folder")
        try:
            if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                time.sleep(2)  # the other worker loads too
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"modelwatch serve not ready after {timeout} s")


def _classes(base: str, key: str) -> list[str]:
    answer = requests.post(f"{base}/api/v1/models/iris/predict", json={"instances": [ROW]},
                           headers={"X-API-Key": key}, timeout=10).json()["predictions"][0]
    return sorted(answer["probabilities"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.feedback_flood", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--items-per-second", type=float, default=10_000)
    parser.add_argument("--max-labels-per-second", type=float, default=None,
                        help="each worker's label budget (feedback.max_labels_per_second; 0: none); "
                             "default: the configuration's")
    parser.add_argument("--out", type=Path, default=Path("bench/results/feedback-flood.json"))
    args = parser.parse_args(argv)
    result = run(args.rounds, args.seconds, args.items_per_second, args.max_labels_per_second)
    budget = result["max_labels_per_second_per_worker"]
    table = Table(title=f"prediction p99 alone and under a flood of {args.items_per_second:,.0f} labels/s, "
                        f"{args.seconds:g} s rounds; label budget "
                        f"{f'{budget:,.0f} a second per worker' if budget else 'off'}")
    for column in ("round", "p99 alone ms", "p99 flooded ms", "ratio", "labels/s accepted", "flood p50 ms",
                   "flood max ms", "flood 429s", "flood failed"):
        table.add_column(column, justify="right")
    for number, row in enumerate(result["rounds"], 1):
        table.add_row(str(number), f"{row['quiet_p99_ms']:.2f}", f"{row['flooded_p99_ms']:.2f}", f"{row['ratio']:.3f}",
                      f"{row['labels_accepted_per_second']:,}", str(row["flood_p50_ms"]), str(row["flood_max_ms"]),
                      f"{row['flood_throttled']}/{row['flood_requests']}", str(row["flood_failed"]))
    console.print(table)
    first, last = result["memory"][0], result["memory"][-1]
    cpu = result["cpu_ms_per_1000_labels"]
    console.print(f"median p99 ratio {result['median_ratio']:.3f} (target at most 1.10); resident memory before the "
                  f"floods {first['master_mib']} + {first['workers_mib']} + {first['label_processes_mib']} MiB "
                  f"(master + workers + label processes), after {result['labels_accepted']:,.0f} labels "
                  f"{last['master_mib']} + {last['workers_mib']} + {last['label_processes_mib']} MiB; record file "
                  f"{result['record_file_mib']} MiB; CPU per 1,000 labels {cpu['workers']} ms in the workers, "
                  f"{cpu['label_processes']} ms in the label processes")
    write_results(args.out, result, console)
    return 0 if result["median_ratio"] <= 1.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
