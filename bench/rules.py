"""Rule evaluation benchmark: how long Prometheus takes to evaluate each of
the project's rule groups over a realistic amount of data.

    python -m bench.rules [--replicas 10] [--seconds 330] [--interval 2] [--registered-models 5 --features 30]
                          [--drift-shards 32] [--drift-every 4] [--profile]

Synthetic data is backfilled with ``promtool tsdb create-blocks-from
openmetrics`` at a 15 s resolution: the last 75 minutes of every raw series of
``--replicas`` service replicas (HTTP histograms for three routes, 2 model
versions x 4 features x (10 + 2) buckets of input counters, class counters,
inference histograms, process CPU and memory) plus the exporter's baselines;
and the recorded series the long windows read (the SLO's 5m rates over 3 days
and their 5-minute copies over 31 days, the request rate over 22 days for the
seasonal prediction), as the rules themselves would have written them.
``--registered-models`` adds that many registered classifiers (one version,
``--features`` features each: half numeric on the quantile buckets, half
categorical on the top categories plus other, unseen and missing, every one
with its missing counter) on every replica, with their baselines. The drift groups' per-version rates get their hour of
history too, and after the backfill a loopback target serves the same raw
series, growing at the same rates, so the rules read fresh head chunks as in
production (the backfilled blocks alone leave the one-minute rates empty after
the first minute, and made the drift group look three times cheaper than it
is). Prometheus (Debian's
binary) then loads the rules generated from the run's configuration
(``--drift-shards`` and ``--drift-every`` change it), evaluates them every
``--interval`` seconds for ``--seconds`` (the drift figures every
``--drift-every`` intervals), and scrapes itself every second; the table
shows, per group, the median and maximum of
``prometheus_rule_group_last_duration_seconds``, and the total evaluation time
a minute (each group's median times its evaluations a minute).
Writes bench/results/rules.json. Target: every group under 50 ms, judged on
its median evaluation (the exit status); the maximum is shown beside it, since
on shared cores a single evaluation can stall on the machine's other work.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import requests
from rich.console import Console
from rich.table import Table

from bench.output import write_results
from modelwatch.core import queries
from modelwatch.models.baselines import MISSING, OTHER, UNSEEN, bucket_label
from modelwatch.core.series import FEATURE_SLOT, HTTP_DURATION_BUCKETS, INFERENCE_BUCKETS, feature_slots, offsets_in_turn
from bench.service import free_port
from modelwatch.core.config import Config, load_config
from modelwatch.rules import rule_files
from modelwatch.rules.drift import SHARD_LABEL, shard_of
from modelwatch.rules.prometheus_config import scrape_job, write_prometheus_config

STEP = 15
RAW_SECONDS = 75 * 60
SLO_SECONDS = 31 * 86400
BURN_SECONDS = 3 * 86400 + 3600
SEASONAL_SECONDS = 22 * 86400
FEATURES = ("sl", "sw", "pl", "pw")
CLASSES = ("setosa", "versicolor", "virginica")
VERSIONS = ("v1", "v2")
ROUTES = ("/api/v1/classify", "/api/v1/predict", "/metrics")
TARGET_SECONDS = 0.050
console = Console()


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def slot_offsets(models: int, features: int) -> dict[str, int]:
    """The feature slot offsets of a registry that holds the Iris example, then the registered models."""
    return offsets_in_turn({"iris": len(FEATURES), **{f"model-{m}": features for m in range(models)}})


def registered_series(config: Config, replicas: int, models: int, features: int) -> list[tuple[str, float, float]]:
    """Registered classifiers' raw series on every replica and their baselines (as the exporter publishes them)."""
    offsets = slot_offsets(models, features)
    service, exporter = config.alerts.service_job, config.alerts.exporter_job
    shapes = [(f"f{i:02d}", "numeric" if i % 2 == 0 else "categorical") for i in range(features)]

    def buckets(kind: str) -> list[str]:
        if kind == "numeric":
            return [bucket_label(b) for b in range(config.model.feature_buckets + 2)]
        return [f"c{c}" for c in range(config.model.top_categories)] + [OTHER, UNSEEN, MISSING]

    def shares(kind: str) -> dict[str, float]:
        """Live traffic as the reference: nothing outside the training range, no unseen or missing
        category (a steady state: drift that fires every alert is another load, on the alert group)."""
        labels = buckets(kind)
        empty = {labels[0], labels[-1]} if kind == "numeric" else {UNSEEN, MISSING}
        return {label: 0.0 if label in empty else 1 / (len(labels) - 2) for label in labels}

    series: list[tuple[str, float, float]] = []
    for m in range(models):
        name = f"model-{m}"
        slots = feature_slots(name, (feature for feature, _ in shapes), offsets[name])
        for r in range(replicas):
            model = dict(job=service, instance=f"replica-{r}:8000", model_name=name, model_version="v1")
            series.append((f"model_info{_labels(**model, role='stable', sha256='x', algorithm='Pipeline', created='2026-11-30')}", 1, 0))
            series.append((f"model_predictions_total{_labels(**model, outcome='success')}", 0, 10))
            for klass in ("yes", "no"):
                series.append((f"model_predicted_class_total{_labels(**model, **{'class': klass})}", 0, 5))
            for feature, kind in shapes:
                for bucket, share in shares(kind).items():
                    series.append((f"model_input_feature_bucket_total"
                                   f"{_labels(**model, feature=feature, feature_slot=slots[feature], bucket=bucket)}",
                                   0, 10 * share))
                series.append((f"model_input_feature_missing_total{_labels(**model, feature=feature)}", 0, 0.1))
        exp = dict(job=exporter, instance="exporter:9188", model_name=name, model_version="v1")
        series.append((f"modelwatch_baseline_rows{_labels(**exp)}", 500, 0))
        for klass in ("yes", "no"):
            series.append((f"modelwatch_baseline_class_fraction{_labels(**exp, **{'class': klass})}", 0.5, 0))
        for feature, kind in shapes:
            labels = buckets(kind)
            series.append((f"modelwatch_baseline_feature_missing_fraction"
                           f"{_labels(**exp, feature=feature, feature_slot=slots[feature])}", 0.01, 0))
            cumulative = 0.0
            for b, (bucket, share) in enumerate(shares(kind).items()):
                cumulative += share
                ref = _labels(**exp, feature=feature, feature_slot=slots[feature], bucket=bucket)
                series.append((f"modelwatch_baseline_feature_fraction{ref}", share, 0))
                if kind == "numeric":
                    series.append((f"modelwatch_baseline_feature_cumulative_fraction{ref}", min(cumulative, 1.0), 0))
                    series.append((f"modelwatch_baseline_feature_bucket_upper_bound{ref}",
                                   math.inf if b == len(labels) - 1 else float(b), 0))
    return series


def raw_series(config: Config, replicas: int, models: int = 0, features: int = 0) -> list[tuple[str, float, float]]:
    """(series, value at the start, increase per second) for every raw series."""
    service, exporter = config.alerts.service_job, config.alerts.exporter_job
    buckets = config.model.feature_buckets + 2
    slots = feature_slots("iris", FEATURES, slot_offsets(models, features)["iris"])
    series: list[tuple[str, float, float]] = []
    for r in range(replicas):
        svc = dict(job=service, instance=f"replica-{r}:8000")
        series.append((f"up{_labels(**svc)}", 1, 0))
        for route in ROUTES:
            for status, share in (("200", 0.995), ("500", 0.005)):
                base = dict(svc, http_route=route, http_request_method="POST", http_response_status_code=status)
                rate = 10 * share
                for bound in (*HTTP_DURATION_BUCKETS, math.inf):
                    below = rate * min(1.0, 0.5 + bound * 20)
                    series.append((f"http_server_request_duration_seconds_bucket{_labels(**base, le=_le(bound))}", 0, below))
                series.append((f"http_server_request_duration_seconds_count{_labels(**base)}", 0, rate))
                series.append((f"http_server_request_duration_seconds_sum{_labels(**base)}", 0, rate * 0.004))
        for version in VERSIONS:
            model = dict(svc, model_name="iris", model_version=version)
            series.append((f"model_info{_labels(**model, role='stable' if version == 'v1' else 'canary', sha256='x', algorithm='LogisticRegression', created='2026-11-26')}", 1, 0))
            for outcome, rate in (("success", 9.9), ("error", 0.1)):
                series.append((f"model_predictions_total{_labels(**model, outcome=outcome)}", 0, rate))
            for bound in (*INFERENCE_BUCKETS, math.inf):
                series.append((f"model_inference_duration_seconds_bucket{_labels(**model, le=_le(bound))}", 0,
                               10 * min(1.0, bound * 2e4)))
            for klass in CLASSES:
                series.append((f"model_predicted_class_total{_labels(**model, **{'class': klass})}", 0, 10 / 3))
            for feature in FEATURES:
                for b in range(buckets):
                    share = 0.0 if b in (0, buckets - 1) else 1 / (buckets - 2)
                    labels = _labels(**model, feature=feature, feature_slot=slots[feature], bucket=bucket_label(b))
                    series.append((f"model_input_feature_bucket_total{labels}", 0, 10 * share))
        proc = dict(job=exporter, instance="exporter:9188", groupname=config.exporter.process_groupname, pid=str(1000 + r))
        for mode, rate in (("user", 0.3), ("system", 0.05)):
            series.append((f"modelwatch_process_cpu_seconds_total{_labels(**proc, mode=mode)}", 0, rate))
        series.append((f"modelwatch_process_resident_memory_bytes{_labels(**proc)}", 150e6, 0))
    exp = dict(job=exporter, instance="exporter:9188", model_name="iris")
    series.append((f"up{_labels(job=exporter, instance='exporter:9188')}", 1, 0))
    for version in VERSIONS:
        model = dict(exp, model_version=version)
        series.append((f"modelwatch_baseline_rows{_labels(**model)}", 120, 0))
        for klass in CLASSES:
            series.append((f"modelwatch_baseline_class_fraction{_labels(**model, **{'class': klass})}", 1 / 3, 0))
        for feature in FEATURES:
            cumulative = 0.0
            for b in range(buckets):
                share = 0.0 if b in (0, buckets - 1) else 1 / (buckets - 2)
                cumulative += share
                labels = _labels(**model, feature=feature, feature_slot=slots[feature], bucket=bucket_label(b))
                series.append((f"modelwatch_baseline_feature_fraction{labels}", share, 0))
                series.append((f"modelwatch_baseline_feature_cumulative_fraction{labels}", min(cumulative, 1.0), 0))
                series.append((f"modelwatch_baseline_feature_bucket_upper_bound{labels}",
                               math.inf if b == buckets - 1 else 4 + b * 0.3, 0))
        for quantile, value in (("0.5", 0.004), ("0.95", 0.012), ("0.99", 0.03)):
            series.append((f"modelwatch_baseline_latency_seconds{_labels(**model, quantile=quantile)}", value, 0))
        for name, value in (("requests_per_second_per_replica", 30), ("cpu_seconds_per_request", 0.012),
                            ("memory_bytes_per_replica", 150e6), ("error_ratio", 0.005)):
            series.append((f"modelwatch_baseline_{name}{_labels(**model)}", value, 0))
    return series + registered_series(config, replicas, models, features)


# The drift group's per-version rates of raw counters, as (record, raw metric, labels kept): their hour
# of history is what the group's sums over an hour read every evaluation.
DRIFT_RATES = (
    (queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_RATE1M, "model_input_feature_bucket_total",
     ("feature", "bucket")),
    (queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_RATE1M, "model_predicted_class_total", ("class",)),
    (queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_RATE1M, "model_input_feature_missing_total", ("feature",)),
    # the missing shares' denominator: without its hour, an hour of missing values over minutes of
    # predictions set off every feature's ModelwatchMissingValuesRising (150 alerts in the alert group)
    (queries.MODEL_VERSION_MODEL_PREDICTIONS_RATE1M, "model_predictions_total", ()),
)
LABEL = re.compile(r'(\w+)="([^"]*)"')


def drift_rates(raw: list[tuple[str, float, float]], shards: int) -> list[tuple[str, int, int, callable]]:
    """The drift group's rate records over the last hour, summed across replicas as the rules do; a
    feature's rates labelled with the shard whose group records them (its slot modulo the shards)."""
    sums: dict[str, float] = defaultdict(float)
    for record, metric, kept in DRIFT_RATES:
        for series, _, per_second in raw:
            if series.startswith(metric + "{"):
                labels = dict(LABEL.findall(series))
                if labels.get("outcome", "success") != "success":  # the rule counts answered predictions
                    continue
                kept_labels = {k: labels[k] for k in ("job", "model_name", "model_version", *kept)}
                if FEATURE_SLOT in labels:
                    kept_labels[SHARD_LABEL] = shard_of(labels[FEATURE_SLOT], shards)
                sums[record + _labels(**kept_labels)] += per_second
    return [(series, RAW_SECONDS, STEP, lambda t, rate=rate: rate) for series, rate in sums.items()]


def recorded_series(config: Config, replicas: int, raw: list[tuple[str, float, float]]) -> list[tuple[str, int, int, callable]]:
    """Recorded series the long windows read: (series, seconds of history, step, value at time t)."""
    job = config.alerts.service_job
    total = 20.0 * replicas

    def daily(t: float) -> float:
        return total * (1 + 0.3 * math.sin(2 * math.pi * t / 86400))

    series = []
    for slo, bad_share in (("availability", 0.0005), ("latency", 0.004)):
        labels = _labels(job=job, slo=slo)
        bad = lambda t, share=bad_share: daily(t) * share  # noqa: E731
        series.append((f"{queries.SLO_SLI_BAD_RATE5M}{labels}", BURN_SECONDS, STEP, bad))
        series.append((f"{queries.SLO_SLI_TOTAL_RATE5M}{labels}", BURN_SECONDS, STEP, daily))
        # The budget group's 5-minute copies, as that group (interval 5m) writes them.
        series.append((f"{queries.SLO_SLI_BAD_AVG_OVER_TIME5M_RATE5M}{labels}", SLO_SECONDS, 300, bad))
        series.append((f"{queries.SLO_SLI_TOTAL_AVG_OVER_TIME5M_RATE5M}{labels}", SLO_SECONDS, 300, daily))
    series.append((f"{queries.JOB_HTTP_SERVER_REQUESTS_RATE5M}{_labels(job=job)}", BURN_SECONDS, STEP, daily))
    # The anomaly history group's 5-minute copy, which its day and week windows read.
    series.append((f"{queries.JOB_HTTP_SERVER_REQUESTS_RATE5M_EVERY5M}{_labels(job=job)}", SEASONAL_SECONDS, 300,
                   daily))
    series += drift_rates(raw, config.prometheus.drift_shards)
    series.append((f"{queries.JOB_HTTP_SERVER_REQUESTS_AVG_OVER_TIME_1W_RATE5M}{_labels(job=job)}", SEASONAL_SECONDS, STEP,
                   lambda t: total))
    return series


def write_openmetrics(path: Path, config: Config, replicas: int, end: int, raw: list[tuple[str, float, float]]) -> int:
    lines = 0
    with path.open("w") as out:
        for name, start_value, per_second in raw:
            for t in range(end - RAW_SECONDS, end + 1, STEP):
                out.write(f"{name} {start_value + per_second * (t - end + RAW_SECONDS):.6g} {t}\n")
                lines += 1
        for name, seconds, step, value in recorded_series(config, replicas, raw):
            for t in range(end - seconds, end + 1, step):
                out.write(f"{name} {value(t):.6g} {t}\n")
                lines += 1
        out.write("# EOF\n")
    return lines


class LiveReplicas:
    """The raw series, carried on past the backfill at the same rates, on one loopback target that
    Prometheus scrapes with ``honor_labels`` (each sample keeps its replica's job and instance): the
    rules read the head's fresh chunks, as they do in production, not only the backfilled blocks."""

    def __init__(self, raw: list[tuple[str, float, float]], end: int):
        started = end - RAW_SECONDS

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                elapsed = time.time() - started
                body = "".join(f"{name} {start + rate * elapsed:.6g}\n" for name, start, rate in raw).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_rules(config: Config, folder: Path) -> Path:
    """The rules this run's configuration generates (its drift shards, say), not the committed ones."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in rule_files(config).items():
        (folder / name).write_text(text)
    return folder


def profile_records(base: str, rules: Path, rounds: int = 3) -> list[dict]:
    """Each rule's own cost (recording and alerting, an alert as its "record"): its expression as an
    instant query, Prometheus' evalTotalTime (``stats=all``), the median of ``rounds``. A group's
    evaluation is about the sum of its rules'."""
    import yaml

    found = []
    for path in sorted(rules.glob("*.rules.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("record") or f"alert {rule['alert']}"
                timings = []
                for _ in range(rounds):
                    answer = requests.get(f"{base}/api/v1/query", params={"query": rule["expr"], "stats": "all"},
                                          timeout=60).json()
                    if answer["status"] != "success":
                        raise SystemExit(f"{name} failed as an instant query: {answer.get('error')}")
                    timings.append(answer["data"]["stats"]["timings"]["evalTotalTime"])
                    series = len(answer["data"]["result"])
                found.append({"group": group["name"], "record": name, "labels": rule.get("labels", {}),
                              "median_ms": sorted(timings)[rounds // 2] * 1000, "series": series})
    return sorted(found, key=lambda r: r["median_ms"], reverse=True)


def measure(workdir: Path, config: Config, seconds: int, live: LiveReplicas,
            profile: bool = False) -> tuple[dict[str, dict], list[dict]]:
    port = int(config.prometheus.port)
    rules_dir = write_rules(config, workdir / "rules")
    config_file = write_prometheus_config(config, workdir / "prometheus.yml", rules_dir, extra_jobs=[
        scrape_job("self", f"127.0.0.1:{port}", scrape_interval="1s"),
        scrape_job("replicas", live.target, honor_labels=True),
    ])
    process = subprocess.Popen(
        ["prometheus", f"--config.file={config_file}", f"--storage.tsdb.path={workdir / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=(workdir / "prometheus.log").open("w"), stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"prometheus did not start: {(workdir / 'prometheus.log').read_text()[-1500:]}")
            time.sleep(0.5)
        with console.status(f"evaluating the rules for {seconds} s"):
            time.sleep(seconds)

        def per_group(expr: str) -> dict[str, float]:
            result = requests.get(f"{base}/api/v1/query", params={"query": expr}, timeout=30).json()["data"]["result"]
            return {r["metric"]["rule_group"].split(";")[-1]: float(r["value"][1]) for r in result}

        window = f"[{seconds}s]"
        # Before its first evaluation a group reports 0: leave those samples out.
        evaluated = f"(prometheus_rule_group_last_duration_seconds > 0)[{seconds}s:1s]"
        median = per_group(f"quantile_over_time(0.5, {evaluated})")
        worst = per_group(f"max_over_time({evaluated})")
        rules = per_group("prometheus_rule_group_rules")
        evaluations = per_group(f"increase(prometheus_rule_group_iterations_total{window})")
        missed = per_group("prometheus_rule_group_iterations_missed_total")
        failures = sum(float(r["value"][1]) for r in requests.get(
            f"{base}/api/v1/query", params={"query": "sum(prometheus_rule_evaluation_failures_total)"}, timeout=30,
        ).json()["data"]["result"])
        # The data is a steady state: an alert active here would be an error of the data, and its
        # evaluation (templates, ALERTS series) a cost the steady state does not have.
        active = {r["metric"]["alertname"]: int(float(r["value"][1])) for r in requests.get(
            f"{base}/api/v1/query", params={"query": "count by (alertname) (ALERTS)"}, timeout=30,
        ).json()["data"]["result"]}
        if profile:
            with console.status("timing every rule on its own"):
                records = profile_records(base, rules_dir)
    finally:
        process.terminate()
        process.wait(30)
    return ({
        group: {"median_ms": median[group] * 1000, "max_ms": worst.get(group, 0) * 1000, "rules": rules.get(group, 0),
                "evaluations": evaluations.get(group, 0), "missed": missed.get(group, 0),
                "rule_failures_total": failures, "active_alerts": active}
        for group in sorted(median)
    }, records if profile else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rules", description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=330,
                        help="how long Prometheus evaluates the rules (over 300: the budget group runs every 5m)")
    parser.add_argument("--interval", type=float, default=2.0, help="rule evaluation interval in seconds")
    parser.add_argument("--registered-models", type=int, default=0, help="registered classifiers on every replica")
    parser.add_argument("--features", type=int, default=30, help="features of each registered model")
    parser.add_argument("--drift-shards", type=int, default=None,
                        help="prometheus.drift_shards for this run (the rules are generated from it; default: the "
                             "configuration's)")
    parser.add_argument("--drift-every", type=int, default=None,
                        help="prometheus.drift_every_evaluations for this run (default: the configuration's)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (TSDB, logs)")
    parser.add_argument("--profile", action="store_true", help="then time every rule on its own")
    parser.add_argument("--out", type=Path, default=Path("bench/results/rules.json"))
    args = parser.parse_args(argv)
    for binary in ("prometheus", "promtool"):
        if shutil.which(binary) is None:
            raise SystemExit(f"{binary} is not installed (scripts/setup.sh installs it)")
    prometheus_version = _version("prometheus")  # the first thing to say: 2.42 and 3.x differ (bench/README)
    workdir = Path(tempfile.mkdtemp(prefix="modelwatch-bench-rules-"))
    drift = {f"MODELWATCH_PROMETHEUS__{name}": str(value) for name, value in
             (("DRIFT_SHARDS", args.drift_shards), ("DRIFT_EVERY_EVALUATIONS", args.drift_every)) if value is not None}
    config = load_config(env={
        **drift,
        "MODELWATCH_PROMETHEUS__PORT": str(free_port()),
        "MODELWATCH_PROMETHEUS__EVALUATION_INTERVAL_SECONDS": str(args.interval),
        "MODELWATCH_SERVICE__PORT": str(free_port()),  # nothing listens: no live data is mixed in
        "MODELWATCH_EXPORTER__PORT": str(free_port()),
    })
    end = int(time.time())
    raw = raw_series(config, args.replicas, args.registered_models, args.features)
    with console.status("writing synthetic series"):
        lines = write_openmetrics(workdir / "data.om", config, args.replicas, end, raw)
    with console.status(f"backfilling {lines:,} samples with promtool"):
        started = time.monotonic()
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=744h",
                        str(workdir / "data.om"), str(workdir / "tsdb")], check=True, capture_output=True)
        backfill_seconds = time.monotonic() - started
    (workdir / "data.om").unlink()
    live = LiveReplicas(raw, end)
    try:
        groups, records = measure(workdir, config, args.seconds, live, args.profile)
    finally:
        live.close()
    series = len(raw)
    models = (f", {args.registered_models} registered models x {args.features} features" if args.registered_models
              else "")
    table = Table(title=f"rule groups, Prometheus {prometheus_version}: {args.replicas} replicas{models}, {series:,} raw series, {lines:,} samples backfilled; "
                        f"evaluated every {args.interval:g} s for {args.seconds} s")
    target_ms = TARGET_SECONDS * 1000
    for column in ("group", "rules", "evaluations", "median ms", "max ms", "median under 50 ms"):
        table.add_column(column, justify="left" if column == "group" else "right", no_wrap=column == "group")
    for name, row in groups.items():
        table.add_row(name, f"{row['rules']:.0f}", f"{row['evaluations']:.0f}", f"{row['median_ms']:.2f}",
                      f"{row['max_ms']:.2f}", "yes" if row["median_ms"] < target_ms else "NO")
    console.print(table)
    per_minute = sum(row["median_ms"] * row["evaluations"] * 60 / args.seconds for row in groups.values())
    over = sum(row["median_ms"] >= target_ms for row in groups.values())
    over_at_max = sum(row["max_ms"] >= target_ms for row in groups.values())
    if records:
        costly = Table(title="the costliest rules, each as an instant query (median of 3)")
        for column in ("group", "record", "labels", "series", "ms"):
            costly.add_column(column, justify="right" if column in ("series", "ms") else "left")
        for row in records[:15]:
            costly.add_row(row["group"], row["record"], ",".join(f"{k}={v}" for k, v in row["labels"].items()),
                           f"{row['series']:,}", f"{row['median_ms']:.1f}")
        console.print(costly)
    first = next(iter(groups.values()))
    console.print(f"groups over {target_ms:.0f} ms at their median: {over}, at their maximum: {over_at_max}, of "
                  f"{len(groups)}; evaluation "
                  f"time a minute (medians x evaluations): {per_minute:.0f} ms; rule evaluation failures: "
                  f"{first['rule_failures_total']:.0f}; alerts active at the end: {first['active_alerts'] or 'none'}; "
                  f"backfill took {backfill_seconds:.0f} s")
    write_results(args.out, {"prometheus_version": prometheus_version, "replicas": args.replicas, "registered_models": args.registered_models,
                                    "features": args.features, "raw_series": series, "samples": lines,
                                    "interval_seconds": args.interval, "seconds": args.seconds, "groups": groups,
                                    "drift_every_evaluations": config.prometheus.drift_every_evaluations,
                                    "drift_shards": config.prometheus.drift_shards,
                                    "groups_over_target": over, "groups_over_target_at_max": over_at_max,
                                    "evaluation_ms_per_minute": per_minute,
                                    "records": records}, console)
    if args.keep:
        console.print(f"kept {workdir}")
    else:
        shutil.rmtree(workdir)
    return 0 if over == 0 else 1


def _version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    found = re.search(r"version (\S+)", out.stdout + out.stderr)
    return found.group(1) if found else "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
