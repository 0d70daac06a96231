"""Open Inference Protocol benchmark: modelwatch's OIP over gRPC and REST against
MLServer 1.7 serving the same artifact over its gRPC and REST, side by side.

    python -m bench.oip [--rounds 3] [--duration 8] [--concurrency 32]

Both servers run on one pinned core (taskset -c 0) with 2 workers (modelwatch:
gunicorn 2 workers x 2 threads, full metrics; MLServer: parallel_workers 2) and serve
the Iris classifier this run trains (MLServer its joblib copy). Both get the
very same requests: one FP64 tensor named "predict" of 1 row or of 100 rows
(for modelwatch a matrix of rows, for MLServer's scikit-learn runtime its
input; over gRPC as raw contents), with the same x-api-key metadata/header
(MLServer ignores it). REST is
driven by wrk (32 connections, one thread), gRPC by a grpc.aio client keeping
``--concurrency`` calls in flight on one channel; the load runs on the other
core. Rounds alternate the order of the servers; medians over rounds are
compared as ratios. Targets: modelwatch >= 1.5x MLServer's gRPC requests/s and
>= 1.4x its REST, p99 beside each. Prints a table and writes
bench/results/oip.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import grpc
from rich.console import Console
from rich.table import Table

from bench import competitors
from bench.output import write_results
from bench.service import LOAD_CORE, Running, Variant, _joblib_copy, free_port, run_wrk
from modelwatch.core.config import load_config
from modelwatch.model_service.keys import KeyStore
from modelwatch.protocol import open_inference_grpc_pb2 as pb
from modelwatch.protocol import open_inference_grpc_pb2_grpc as pb_grpc
from modelwatch.model_service.training import train

console = Console()
ROW = [5.1, 3.5, 1.4, 0.3]
SIZES = (1, 100)
TARGETS = {"grpc": 1.5, "rest": 1.4}


def rest_body(rows: int) -> dict:
    return {"inputs": [{"name": "predict", "shape": [rows, 4], "datatype": "FP64", "data": ROW * rows}]}


def grpc_request(rows: int) -> pb.ModelInferRequest:
    """Raw tensor contents, as Triton's client sends them (MLServer 1.7.1 cannot answer its scikit-learn
    runtime's string classes in typed contents: "expected bytes, str found"; raw works for both)."""
    request = pb.ModelInferRequest(model_name="iris")
    request.inputs.add(name="predict", datatype="FP64", shape=[rows, 4])
    request.raw_input_contents.append(struct.pack(f"<{4 * rows}d", *(ROW * rows)))
    return request


def rest_load(url: str, key: str, rows: int, seconds: float, folder: Path) -> dict:
    script = folder / f"rest-{rows}.lua"
    script.write_text('wrk.method = "POST"\n'
                      f"wrk.body = {json.dumps(json.dumps(rest_body(rows)))}\n"
                      'wrk.headers["Content-Type"] = "application/json"\n'
                      f'wrk.headers["X-API-Key"] = "{key}"\n')
    return run_wrk(url, seconds, ["-s", str(script)])


async def _grpc_load(target: str, key: str, rows: int, seconds: float, concurrency: int) -> dict:
    request = grpc_request(rows)
    latencies: list[float] = []
    errors = 0
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        metadata = (("x-api-key", key),)
        await stub.ModelInfer(request, metadata=metadata, timeout=30)  # warm-up, and fail early
        deadline = time.perf_counter() + seconds

        async def caller():
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    await stub.ModelInfer(request, metadata=metadata, timeout=30)
                    latencies.append(time.perf_counter() - started)
                except grpc.aio.AioRpcError:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000, "errors": errors, "requests": len(latencies)}


def grpc_load(target: str, key: str, rows: int, seconds: float, concurrency: int) -> dict:
    return asyncio.run(_grpc_load(target, key, rows, seconds, concurrency))


def variants(work: Path) -> tuple[list[tuple[Variant, int, int]], str]:
    """(variant, HTTP port, gRPC port) for modelwatch and MLServer, and the API key."""
    state = work / "state"
    config = load_config(env={"MODELWATCH_PATHS__STATE_DIR": str(state)})
    train(config)
    key = KeyStore(config.paths.keys_file).add("bench")
    model_file = _joblib_copy(config.paths.registry_dir / config.model.name / "v1" / "model.skops", work)
    ours_http, ours_grpc = free_port(), free_port()
    ours = Variant("modelwatch", "modelwatch (full metrics)", [sys.executable, "-m", "modelwatch", "serve", "--port",
                                                                  str(ours_http)], "/readyz",
                   env={"MODELWATCH_PATHS__STATE_DIR": str(state), "MODELWATCH_SERVICE__GRPC_PORT": str(ours_grpc)})
    ports = (free_port(), free_port(), free_port())
    command, _ = competitors.mlserver_setup(model_file, work / "mlserver", ports, parallel_workers=2)
    theirs = Variant("mlserver", "MLServer 1.7.1 (parallel_workers 2)", command, "/v2/health/ready")
    return [(ours, ours_http, ours_grpc), (theirs, ports[0], ports[1])], key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.oip", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="gRPC calls in flight")
    parser.add_argument("--out", type=Path, default=Path("bench/results/oip.json"))
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {int(LOAD_CORE)})  # the gRPC client stays off the servers' core
    work = Path(tempfile.mkdtemp(prefix="modelwatch-bench-oip-"))
    with console.status("training, and building MLServer's virtual environment on first use"):
        servers, key = variants(work)
    runs: dict[str, list[dict]] = {}
    for round_no in range(args.rounds):
        for variant, http_port, grpc_port in servers if round_no % 2 == 0 else servers[::-1]:
            running = Running(variant, http_port, work / f"{variant.name}-{round_no}.log")
            try:
                running.wait_ready()
                for rows in SIZES:
                    with console.status(f"round {round_no + 1}/{args.rounds}: {variant.name}, {rows} row(s)"):
                        rest = rest_load(f"http://127.0.0.1:{http_port}/v2/models/iris/infer", key, rows,
                                         args.duration, work)
                        grpc_figures = grpc_load(f"127.0.0.1:{grpc_port}", key, rows, args.duration,
                                                 args.concurrency)
                    runs.setdefault(f"{variant.name} rest {rows}", []).append(rest)
                    runs.setdefault(f"{variant.name} grpc {rows}", []).append(grpc_figures)
            finally:
                running.stop()
    summary = {name: {key_: statistics.median(r[key_] for r in rs) for key_ in ("rps", "p50_ms", "p99_ms")}
               for name, rs in runs.items()}
    ratios = {f"{protocol} {rows}": summary[f"modelwatch {protocol} {rows}"]["rps"]
              / summary[f"mlserver {protocol} {rows}"]["rps"] for protocol in ("grpc", "rest") for rows in SIZES}
    table = Table(title=f"OIP, medians of {args.rounds} rounds of {args.duration:g} s; servers on one core")
    for column in ("protocol, rows", "modelwatch req/s", "p99 ms", "MLServer req/s", "p99 ms", "ratio", "target"):
        table.add_column(column, justify="left" if column.startswith("protocol") else "right")
    for protocol in ("grpc", "rest"):
        for rows in SIZES:
            ours, theirs = summary[f"modelwatch {protocol} {rows}"], summary[f"mlserver {protocol} {rows}"]
            ratio = ratios[f"{protocol} {rows}"]
            table.add_row(f"{protocol}, {rows}", f"{ours['rps']:.0f}", f"{ours['p99_ms']:.1f}", f"{theirs['rps']:.0f}",
                          f"{theirs['p99_ms']:.1f}", f"{ratio:.2f}x",
                          f">= {TARGETS[protocol]}x {'met' if ratio >= TARGETS[protocol] else 'NOT met'}")
    console.print(table)
    write_results(args.out, {"summary": summary, "ratios": ratios, "runs": runs, "targets": TARGETS,
                             "rounds": args.rounds, "duration": args.duration, "concurrency": args.concurrency},
                  console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
