"""Detection benchmark of live quality: does an accuracy drop seen only through
labels fire its alert in time, and does a run without one fire nothing?

    python -m bench.quality_alerts [--minutes 30] [--labels-per-second 20] [--drop 0.2] [--drift-after 5m]

The real local stack (``modelwatch up``: service, exporter, Prometheus with the
generated rules at their real intervals, Alertmanager). Two copies of the Iris
classifier are registered as the models ``steady`` and ``drifted`` and loaded
side by side for ``--minutes`` by the labels scenario (Locust), each sending
about ``--labels-per-second`` true labels, 30 s after their predictions. From
``--drift-after`` the drifted model's labels are flipped, for the share that
takes ``--drop`` off its accuracy (the concept changed; its inputs did not).

Measured: when ``ModelwatchModelAccuracyBelowReference`` went pending and fired
for the drifted model, counted from the concept change and from its first
flipped label; every alert either model had otherwise; both models' live
accuracy over 10 minutes, before and after. Targets: fired within 10 minutes
of the change; the steady model's quality alerts silent for the whole run.

Prints a table and writes bench/results/quality-alerts.json.
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
from bench.stack import config_in
from modelwatch.cli.options import duration
from modelwatch.core import queries
from modelwatch.core.prometheus_api import PrometheusApi, PrometheusUnavailable
from modelwatch.loadtests.labels import LabelPlan
from modelwatch.loadtests.runner import LoadRun, client_figures, start
from modelwatch.local.stack import Stack, ensure_model
from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.training import train
from modelwatch.models.baselines import parse_reference_quality
from modelwatch.models.registry import METADATA_FILE, Registry

console = Console()
ALERT = "ModelwatchModelAccuracyBelowReference"
QUALITY_ALERTS = (ALERT, "ModelwatchModelErrorAboveReference", "ModelwatchCanaryQualityWorse", "ModelwatchFeedbackStopped")
MODELS = ("steady", "drifted")
USERS = 2  # per model
MEAN_ROWS_PER_REQUEST = 5  # the labels scenario's batches: 1 to 9 rows
LABEL_DELAY_SECONDS = 30.0


def flip_share(drop: float, accuracy: float, classes: int) -> float:
    """The share of labels to flip for accuracy to fall by ``drop``: a flipped label makes a right
    prediction wrong, and a wrong one right for one in ``classes - 1``."""
    return min(1.0, drop / (accuracy - (1 - accuracy) / (classes - 1)))


def _register(config, name: str) -> dict:
    """Iris, trained again under ``name``; its reference quality."""
    named = dataclasses.replace(config, model=dataclasses.replace(config.model, name=name))
    registered = train(named)
    metadata = (Registry(config.paths.registry_dir, name).version_dir(registered.version) / METADATA_FILE).read_text()
    return parse_reference_quality(metadata)


def _watch(prometheus: PrometheusApi, runs: list, seen: dict, accuracy: list) -> None:
    """Until the load ends: the first time each alert was pending or firing per model, and the live accuracy."""
    while any(process.poll() is None for process in runs):
        now = time.time()
        try:
            for sample in prometheus.query('ALERTS{model_name=~"steady|drifted"}'):
                key = (sample.labels["alertname"], sample.labels["model_name"], sample.labels["alertstate"])
                seen.setdefault(key, now)
            for sample in prometheus.query(queries.MODEL_VERSION_MODEL_ACCURACY_RATIO10M + '{model_name=~"steady|drifted"}'):
                accuracy.append((now, sample.labels["model_name"], sample.value))
        except PrometheusUnavailable as exc:
            console.print(f"[yellow]{exc}[/]")
        time.sleep(5)


def run(minutes: float, labels_per_second: float, drop: float, drift_after: float) -> dict:
    state = Path(tempfile.mkdtemp(prefix="modelwatch-bench-quality-"))
    config = config_in(state)
    ensure_model(config)
    with console.status("training the two models"):
        reference = {name: _register(config, name) for name in MODELS}
    share = flip_share(drop, reference["drifted"]["accuracy"], 3)
    rate_per_user = labels_per_second / (USERS * MEAN_ROWS_PER_REQUEST)
    stack = Stack(config)
    stack.up()
    seen: dict = {}
    accuracy: list = []
    try:
        url = f"http://{config.service.host}:{config.service.port}"
        key = KeyStore(config.paths.keys_file).renew("loadtest")
        plans = {"steady": LabelPlan(1.0, LABEL_DELAY_SECONDS),
                 "drifted": LabelPlan(1.0, LABEL_DELAY_SECONDS, share, drift_after)}
        loads = {name: LoadRun("labels", USERS, minutes * 60, url, key, state / "load" / name, rate_per_user, name,
                               plans[name]) for name in MODELS}
        with console.status(f"{minutes:g} minutes of labelled load; the drifted model's labels flip after "
                            f"{drift_after:g} s"):
            runs = [start(load, config) for load in loads.values()]
            _watch(PrometheusApi.from_config(config), runs, seen, accuracy)
        figures = {name: client_figures(load) for name, load in loads.items()}
        span = max(f["ended"] for f in figures.values()) - min(f["started"] for f in figures.values())
        time.sleep(2 * config.prometheus.scrape_interval_seconds)  # the last labels scraped
        labelled = {s.labels["model_name"]: round(s.value / span, 1) for s in PrometheusApi.from_config(config).query(
            f'sum by (model_name) (increase(model_feedback_total{{model_name=~"steady|drifted", outcome="accepted"}}'
            f"[{int(span) + 60}s]))")}
    finally:
        stack.down()
    change = figures["drifted"]["started"] + drift_after
    first_flipped_label = change + LABEL_DELAY_SECONDS

    def after(moment: float | None, since: float) -> float | None:
        return None if moment is None else round(moment - since, 1)

    fired, pending = seen.get((ALERT, "drifted", "firing")), seen.get((ALERT, "drifted", "pending"))

    def mean_accuracy(model: str, start_at: float, end_at: float) -> float | None:
        values = [v for t, m, v in accuracy if m == model and start_at <= t < end_at and v == v]
        return round(sum(values) / len(values), 4) if values else None

    end = max(f["ended"] for f in figures.values())
    return {
        "minutes": minutes, "labels_per_second": labels_per_second, "drop": drop, "drift_after_seconds": drift_after,
        "label_delay_seconds": LABEL_DELAY_SECONDS, "flipped_share": round(share, 4),
        "reference_accuracy": {name: reference[name]["accuracy"] for name in MODELS},
        "requests": {name: f["requests"] for name, f in figures.items()},
        "labels_accepted_per_second": labelled,
        "failures": {name: f["failures"] for name, f in figures.items()},
        "pending_after_change_seconds": after(pending, change),
        "fired_after_change_seconds": after(fired, change),
        "fired_after_first_flipped_label_seconds": after(fired, first_flipped_label),
        "fired_before_change": fired is not None and fired < change,
        "steady_quality_alerts": sorted(f"{a} ({s})" for a, m, s in seen if m == "steady" and a in QUALITY_ALERTS),
        "other_alerts": sorted(f"{a} {m} ({s})" for a, m, s in seen if a not in QUALITY_ALERTS),
        "live_accuracy_10m": {
            "steady": mean_accuracy("steady", figures["steady"]["started"] + 600, end),
            "drifted_before_change": mean_accuracy("drifted", figures["drifted"]["started"] + 120, change),
            "drifted_from_10_min_after_change": mean_accuracy("drifted", change + 600 + LABEL_DELAY_SECONDS, end),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality_alerts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--labels-per-second", type=float, default=20)
    parser.add_argument("--drop", type=float, default=0.2, help="accuracy points the flipped labels take off")
    parser.add_argument("--drift-after", type=duration, default=300.0, help="when the concept changes (default 5m)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/quality-alerts.json"))
    args = parser.parse_args(argv)
    result = run(args.minutes, args.labels_per_second, args.drop, args.drift_after)
    table = Table(title=f"{args.minutes:g} min at {args.labels_per_second:g} labels/s per model; the drifted model "
                        f"loses {args.drop:.0%} of accuracy from {args.drift_after:g} s")
    for column in ("measure", "value", "target"):
        table.add_column(column)
    fired = result["fired_after_change_seconds"]
    table.add_row("alert pending, after the change", _seconds(result["pending_after_change_seconds"]), "")
    table.add_row("alert firing, after the change", _seconds(fired), "within 600 s")
    table.add_row("alert firing, after the first flipped label", _seconds(result["fired_after_first_flipped_label_seconds"]), "")
    table.add_row("steady model's quality alerts", ", ".join(result["steady_quality_alerts"]) or "none", "none")
    for name, value in result["live_accuracy_10m"].items():
        table.add_row(f"live accuracy (10 min), {name.replace('_', ' ')}", "-" if value is None else f"{value:.1%}", "")
    table.add_row("labels accepted per second", ", ".join(f"{m} {v}" for m, v in
                                                          sorted(result["labels_accepted_per_second"].items())), "")
    table.add_row("reference accuracy", f"{result['reference_accuracy']['drifted']:.1%}", "")
    table.add_row("requests (failed)", ", ".join(f"{m} {result['requests'][m]} ({result['failures'][m]})" for m in MODELS), "")
    table.add_row("other alerts", ", ".join(result["other_alerts"]) or "none", "")
    console.print(table)
    write_results(args.out, result, console)
    met = fired is not None and 0 <= fired <= 600 and not result["steady_quality_alerts"]
    console.print("targets met" if met else "[red]targets not met[/]")
    return 0 if met else 1


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f} s"


if __name__ == "__main__":
    raise SystemExit(main())
