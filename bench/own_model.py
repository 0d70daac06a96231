"""Own-model benchmark: a registered 30-feature pipeline, side by side, on loopback.

    python -m bench.own_model [--rounds 7] [--duration 6]

The pipeline is scikit-learn's breast-cancer classifier (30 numeric features;
StandardScaler + LogisticRegression), registered with ``modelwatch models add``
from a skops file and its held-out rows. Variants, each with 2 workers on one
pinned core and driven by wrk from the other, interleaved round by round as in
``bench.service``:

- (b) modelwatch, metrics off; (c) modelwatch with full monitoring (every
  feature bucketed, missing values, class and confidence, prediction ids);
- (d) MLServer 1.7.1 serving the same fitted pipeline (a joblib file) with the
  V2 protocol, asked for its class probabilities, as (b) and (c) compute them.

Two loads: one row per request (wrk), and 1,000-row batches (reported as
rows/s), driven by ``bench.closed_loop`` so that each window ends drained: wrk
would leave 32 requests of tens of milliseconds in flight, a fifth of a window
paid by the next one.
Then the series one model version adds to (c)'s /metrics. Prints tables and
writes bench/results/own-model.json. Target: (c) / (b) >= 0.95 for both loads.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import joblib
import requests
import skops.io
from rich.table import Table
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.output import write_results
from bench import competitors
from bench.service import Running, Variant, console, free_port, paired_ratio, run_rounds, summarise
from modelwatch.core.config import load_config
from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.registration import Request, register

NAME = "cancer"
BATCH = 1000
TARGET = 0.95


def fit(folder: Path) -> tuple[Path, Path, Path, list[list[float]]]:
    """The pipeline as a skops file (for modelwatch) and a joblib file (for MLServer), the held-out rows
    as reference data, and rows to send."""
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns={"target": "malignant"})
    train, test = train_test_split(frame, test_size=0.3, random_state=0)
    features = train.drop(columns=["malignant"])
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(features, train["malignant"])
    skops_file, joblib_file, reference = folder / "cancer.skops", folder / "cancer.joblib", folder / "reference.csv"
    skops.io.dump(pipeline, skops_file)
    joblib.dump(pipeline, joblib_file)
    test.to_csv(reference, index=False)
    rows = test.drop(columns=["malignant"]).round(4).values.tolist()
    return skops_file, joblib_file, reference, rows


def _batch(rows: list[list[float]], size: int) -> list[list[float]]:
    return [rows[i % len(rows)] for i in range(size)]


@dataclass(frozen=True)
class Registered:
    """The pipeline registered once in ``state`` (every variant copies it), and what the loads send."""

    state: Path
    env: dict
    key: str
    joblib_file: Path
    rows: list


def register_once(work: Path) -> Registered:
    skops_file, joblib_file, reference, rows = fit(work)
    state = work / "state"
    env = {"MODELWATCH_PATHS__STATE_DIR": str(state), "MODELWATCH_SERVICE__MAX_BATCH_SIZE": str(BATCH)}
    config = load_config(env=env)
    register(config, Request(NAME, skops_file, reference, "malignant",
                             trusted_types=tuple(skops.io.get_untrusted_types(file=skops_file))))
    return Registered(state, env, KeyStore(config.paths.keys_file).add("bench"), joblib_file, rows)


def build_variants(work: Path, registered: Registered, size: int) -> list[tuple[Variant, int]]:
    sent = _batch(registered.rows, size)
    variants = []
    for name, label, on in (("uninstrumented", "(b) modelwatch, metrics off", "false"),
                            ("instrumented", "(c) modelwatch, full monitoring", "true")):
        folder = work / f"{name}-{size}"
        subprocess.run(["cp", "-r", str(registered.state), str(folder)], check=True)  # the same registry and key
        port = free_port()
        variants.append((Variant(
            name, label, [sys.executable, "-m", "modelwatch", "serve", "--port", str(port)],
            f"/api/v1/models/{NAME}/predict?key={registered.key}", body={"instances": sent},
            env={**registered.env, "MODELWATCH_SERVICE__INSTRUMENTATION": on, "MODELWATCH_PATHS__STATE_DIR": str(folder)},
        ), port))
    port = free_port()
    try:
        command, _ = competitors.mlserver_setup(registered.joblib_file, work / f"mlserver-{size}", (port, free_port(), free_port()),
                                                2, name=NAME)
        body = {"inputs": [{"name": "predict", "shape": [size, len(registered.rows[0])], "datatype": "FP64", "data": sent}],
                "outputs": [{"name": "predict_proba"}]}
        variants.append((Variant("mlserver", "(d) MLServer 1.7.1, parallel_workers=2", command,
                                 f"/v2/models/{NAME}/infer", body=body), port))
    except subprocess.CalledProcessError as exc:
        console.print(f"[yellow]skipping MLServer: its virtual environment could not be built ({exc})")
    return variants


def series_per_version(variant: Variant, port: int, work: Path) -> int:
    """Samples of the registered model's version on /metrics once it has answered."""
    running = Running(variant, port, work / "series.log")
    try:
        running.wait_ready()
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        running.stop()
    return sum(1 for line in text.splitlines()
               if not line.startswith("#") and re.search(rf'model_name="{NAME}",.*model_version="v1"', line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.own_model", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--duration", type=float, default=6, help="seconds of load per variant and round")
    parser.add_argument("--out", type=Path, default=Path("bench/results/own-model.json"))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="modelwatch-bench-own-"))
    loads, targets = {}, []
    with console.status("fitting and registering the pipeline"):
        registered = register_once(work)
    for size in (1, BATCH):
        with console.status(f"building variants for {size}-row requests"):
            variants = build_variants(work, registered, size)
        results = run_rounds(variants, args.rounds, args.duration, work, drained=size > 1)
        summary = summarise(variants, results)
        for row in summary.values():
            row["rows_per_second_median"] = row["rps_median"] * size
        loads[size] = summary
        for text, ratio in ((f"(c) / (b), {size}-row requests, per-round pairs",
                             paired_ratio(results, "instrumented", "uninstrumented")),
                            (f"(c) / (b) by CPU per request, {size}-row requests, per-round pairs",
                             paired_ratio(results, "uninstrumented", "instrumented", "cpu_us_per_request"))):
            if ratio is not None:
                targets.append({"target": text, "value": round(ratio, 3), "goal": TARGET, "met": ratio >= TARGET})
        if size == 1:
            instrumented = next(v for v in variants if v[0].name == "instrumented")
            series = series_per_version(*instrumented, work)
    for size, summary in loads.items():
        table = Table(title=f"{size}-row requests: medians of {args.rounds} interleaved rounds, {args.duration:g} s each")
        for column in ("variant", "req/s", "rows/s", "vs (b)", "p50 ms", "p99 ms", "CPU µs/req", "non-2xx"):
            table.add_column(column, justify="left" if column == "variant" else "right")
        base = summary.get("uninstrumented", {}).get("rps_median")
        for row in summary.values():
            table.add_row(row["label"], f"{row['rps_median']:.0f}", f"{row['rows_per_second_median']:.0f}",
                          f"{row['rps_median'] / base:.2f}x" if base else "-", f"{row['p50_ms_median']:.2f}",
                          f"{row['p99_ms_median']:.2f}", f"{row['cpu_us_per_request_median']:.0f}", str(row["non_2xx"]))
        console.print(table)
    goals = Table(title="targets")
    for column in ("target", "value", "goal", "met"):
        goals.add_column(column)
    for target in targets:
        goals.add_row(target["target"], str(target["value"]), f"≥ {target['goal']}", "yes" if target["met"] else "NO")
    console.print(goals)
    console.print(f"series of one model version (30 features) on one replica's /metrics: {series}")
    write_results(args.out, {"loads": {str(k): v for k, v in loads.items()}, "targets": targets,
                                    "series_per_version": series, "rounds": args.rounds,
                                    "duration_seconds": args.duration}, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
