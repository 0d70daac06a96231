"""Running a scenario headless with Locust (a subprocess: Locust monkey-patches
the process with gevent), with CSV and HTML reports and the SLO gate's verdict
in the run's output folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from modelwatch.core import extras, queries
from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.prometheus_api import PrometheusApi, PrometheusUnavailable
from modelwatch.loadtests import gate
from modelwatch.loadtests.labels import LabelPlan
from modelwatch.models.registry import REFERENCE_SAMPLE_FILE, Registry
from modelwatch.loadtests.scenarios import SCENARIOS

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass(frozen=True)
class LoadRun:
    scenario: str
    users: int
    duration: float
    url: str
    api_key: str
    out_dir: Path
    rate_per_user: float = 2.0
    model: str | None = None  # a registered model (modelwatch models add); None: the default model's routes
    labels: LabelPlan = LabelPlan()  # the labels scenario's
    grpc_target: str = ""  # host:port: the Open Inference Protocol over gRPC instead of HTTP


def default_out_dir(config: Config, scenario: str) -> Path:
    return Path(config.paths.state_dir) / "loadtests" / f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario}"


def start(run: LoadRun, config: Config) -> subprocess.Popen:
    if run.scenario not in SCENARIOS:
        raise ModelwatchError(f"unknown scenario {run.scenario!r}; one of {', '.join(SCENARIOS)}")
    extras.require("load")  # before the Locust subprocess would fail with a traceback
    labelled = SCENARIOS[run.scenario].labels
    if labelled and run.grpc_target:
        raise ModelwatchError("the labels scenario sends its labels over HTTP (/api/v1/.../feedback): "
                              "use --protocol http")
    # labels and gRPC calls go to a model by name
    model = run.model or (config.model.name if labelled or run.grpc_target else None)
    sample = _reference_sample(config, model or config.model.name)
    if labelled:
        _check_labels(run.labels, sample, model)
    run.out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        MODELWATCH_LOAD_SCENARIO=run.scenario, MODELWATCH_LOAD_USERS=str(run.users),
        MODELWATCH_LOAD_DURATION=str(run.duration), MODELWATCH_LOAD_API_KEY=run.api_key,
        MODELWATCH_LOAD_RATE_PER_USER=str(run.rate_per_user), MODELWATCH_LOAD_OUT=str(run.out_dir),
        MODELWATCH_LOAD_SAMPLE=str(sample), **({"MODELWATCH_LOAD_MODEL": model} if model else {}),
        **({"MODELWATCH_LOAD_GRPC_TARGET": run.grpc_target} if run.grpc_target else {}),
        **run.labels.to_env(),
    )
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", run.url,
            "--csv", str(run.out_dir / "locust"), "--csv-full-history", "--html", str(run.out_dir / "report.html"),
            "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5"]
    log = open(run.out_dir / "locust.log", "w")
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)


def _reference_sample(config: Config, model: str) -> Path:
    """The stable version's reference sample of a registered model (the default one too), or a one-line error."""
    registry = Registry(config.paths.registry_dir, model)
    if model not in Registry.models(config.paths.registry_dir):
        raise ModelwatchError(f"no registered model {model!r} in {config.paths.registry_dir} (modelwatch models list)")
    path = registry.version_dir(registry.deployment().stable) / REFERENCE_SAMPLE_FILE
    if not path.is_file():
        raise ModelwatchError(f"{model} has no reference sample ({path}): register it again with modelwatch models "
                              "add (modelwatch train, for the Iris example)")
    return path


def _check_labels(plan: LabelPlan, sample: Path, model: str) -> None:
    problems = plan.problems()
    if problems:
        raise ModelwatchError(problems[0])
    if not any(t is not None for t in json.loads(sample.read_text()).get("targets") or []):
        raise ModelwatchError(f"{model}'s reference sample has no targets to send as labels: register it with "
                              "modelwatch models add --target COLUMN (modelwatch train, for the Iris example)")


def client_figures(run: LoadRun) -> dict:
    try:
        return json.loads((run.out_dir / gate.CLIENT_FILE).read_text())
    except (FileNotFoundError, ValueError):
        log = (run.out_dir / "locust.log").read_text(errors="replace").strip().splitlines()
        raise ModelwatchError(f"locust did not finish the run: {log[-1] if log else 'no output'}") from None


def server_figures(prometheus: PrometheusApi, config: Config, started: float, ended: float,
                   grpc: bool = False) -> gate.ServerFigures:
    """The run's SLIs as Prometheus saw them, once it has scraped past the run's end: the API's
    requests, or with ``grpc`` the ModelInfer calls (rpc_server_duration_milliseconds)."""
    selectors = queries.Selectors(config)
    counted = (f"{queries.RPC_DURATION}_count{{{selectors.grpc_inference}}}" if grpc
               else f"{queries.HTTP_DURATION}_count{{{selectors.api}}}")
    scraped = f"max(timestamp({counted}))"
    patience = time.monotonic() + 3 * config.prometheus.scrape_interval_seconds + 5
    while time.monotonic() < patience:
        last = prometheus.query(scraped)
        if last and last[0].value >= ended:
            break
        time.sleep(0.5)
    at = time.time()
    window = f"{max(1, int(round(at - started)))}s"

    def value(expr: str) -> float:
        result = prometheus.query(expr, at=at)
        return result[0].value if result and result[0].value == result[0].value else 0.0

    if grpc:
        return gate.ServerFigures(requests=value(queries.grpc_inference_calls(selectors, window)),
                                  availability=value(queries.grpc_availability_good_ratio(selectors, window)),
                                  within_latency=value(queries.grpc_latency_slo_good_ratio(selectors, window)))
    return gate.ServerFigures(
        requests=value(queries.api_requests(selectors, window)),
        availability=value(queries.availability_good_ratio(selectors, window)),
        within_latency=value(queries.latency_slo_good_ratio(selectors, window)),
    )


def verdict(run: LoadRun, config: Config, prometheus: PrometheusApi | None = None) -> dict:
    """Judge the run's SLOs from Prometheus (the configured one by default) and write slo-gate.json."""
    client = client_figures(run)
    prometheus = prometheus or PrometheusApi.from_config(config)
    try:
        server = server_figures(prometheus, config, client["started"], client["ended"], grpc=bool(run.grpc_target))
        reason = ""
    except PrometheusUnavailable as exc:
        server, reason = None, str(exc)
    result = gate.verdict(client, server, config.slo, reason)
    gate.write(result, run.out_dir / gate.GATE_FILE)
    return result
