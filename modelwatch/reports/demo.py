"""``modelwatch demo``: the whole loop on one machine, in a few minutes.

The local stack comes up (with faster scrapes and autoscaler settings than the
defaults, so that minutes are enough: see ``demo_config``), a steady load gives
the performance baseline, then a step load — a fifth of the peak, the peak,
back — makes the autoscaler add replicas and remove them again, while a small
labels load sends the true labels of some of its own predictions later, as a
labelling job would. Meanwhile the replicas and the new workers' CPU are
sampled; afterwards Prometheus gives the latency, errors, live accuracy and
alerts, a report is written, and a summary printed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psutil
import requests
from prometheus_client.parser import text_string_to_metric_families

from modelwatch.autoscaler.backends import GunicornWorkers
from modelwatch.loadtests.labels import LabelPlan
from modelwatch.loadtests.runner import LoadRun, client_figures, start, verdict
from modelwatch.model_service.keys import KeyStore
from modelwatch.core import queries
from modelwatch.core.config import Config
from modelwatch.core.prometheus_api import PrometheusApi
from modelwatch.local.stack import Stack, ensure_model


@dataclass(frozen=True)
class DemoPlan:
    steady_seconds: float = 45
    step_seconds: float = 210  # low 30 %, peak 40 %, low 30 %
    settle_seconds: float = 60  # after the load: time for the scale-down
    peak_users: int = 60
    rate_per_user: float = 2.0
    labelling_users: int = 2  # during the step: predictions by name, half of them labelled 5 s later
    labels: LabelPlan = LabelPlan(share=0.5, delay_seconds=5.0)


def demo_config(config: Config) -> Config:
    """Faster than production defaults, so the demo fits in minutes: 5 s scrapes and syncs, 30 s down-stabilization."""
    return dataclasses.replace(
        config,
        service=dataclasses.replace(config.service, workers=1),
        prometheus=dataclasses.replace(config.prometheus, scrape_interval_seconds=5, evaluation_interval_seconds=5),
        autoscaler=dataclasses.replace(config.autoscaler, sync_period_seconds=5, scale_down_stabilization_seconds=30,
                                       scale_up_period_seconds=15, scale_down_period_seconds=15),
    )


@dataclass
class Timeline:
    points: list[tuple[float, int]] = field(default_factory=list)  # (time, replicas)
    desired: list[tuple[float, float]] = field(default_factory=list)  # (time, what the autoscaler decided)
    first_seen: dict[str, float] = field(default_factory=dict)  # worker pid -> when it appeared
    cpu: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # worker pid -> [(time, CPU seconds)]

    def served_cpu(self, pid: str, boot_seconds: float) -> float:
        """CPU seconds a worker used after booting (imports and model loading excluded): time spent serving."""
        samples = [(t, cpu) for t, cpu in self.cpu.get(pid, []) if t >= self.first_seen[pid] + boot_seconds]
        return samples[-1][1] - samples[0][1] if len(samples) > 1 else 0.0


@dataclass
class DemoResult:
    out_dir: Path
    report: Path
    baseline: dict
    load: dict
    step_start: float
    step_end: float
    timeline: Timeline
    timings: dict[str, float | None]
    peak_rps: float
    p95_max_seconds: float
    server_errors: float
    alerts_fired: list[dict]
    new_workers_cpu: dict[str, float]
    labelling: dict  # the labels load's client figures
    quality: list  # reports.quality.ModelQuality of each version labelled


def _desired(autoscaler_url: str) -> float | None:
    try:
        text = requests.get(f"{autoscaler_url}/metrics", timeout=2).text
    except requests.RequestException:
        return None
    for family in text_string_to_metric_families(text):
        if family.name == "kube_horizontalpodautoscaler_status_desired_replicas":
            return family.samples[0].value
    return None


def _sample(backend: GunicornWorkers, timeline: Timeline, autoscaler_url: str) -> None:
    now = time.time()
    replicas = backend.replicas()
    timeline.points.append((now, len(replicas)))
    desired = _desired(autoscaler_url)
    if desired is not None:
        timeline.desired.append((now, desired))
    for replica in replicas:
        timeline.first_seen.setdefault(replica.name, now)
        try:
            cpu = psutil.Process(int(replica.name)).cpu_times()
            timeline.cpu.setdefault(replica.name, []).append((now, cpu.user + cpu.system))
        except psutil.NoSuchProcess:
            pass


def _run_load(run: LoadRun, config: Config, backend: GunicornWorkers, timeline: Timeline) -> dict:
    process = start(run, config)
    while process.poll() is None:
        _sample(backend, timeline, _autoscaler_url(config))
        time.sleep(1)
    return verdict(run, config)


def _autoscaler_url(config: Config) -> str:
    return f"http://{config.autoscaler.host}:{config.autoscaler.port}"


def _first(points: list[tuple[float, float]], after: float, test: Callable[[float], bool]) -> float | None:
    for stamp, value in points:
        if stamp >= after and test(value):
            return stamp - after
    return None


def run_demo(config: Config, plan: DemoPlan = DemoPlan(), keep: bool = False,
             progress: Callable[[str], None] = lambda message: None) -> DemoResult:
    config = demo_config(config)
    stack = Stack(config)
    stack.preflight()
    ensure_model(config)
    out_dir = Path(config.paths.state_dir) / "demo" / time.strftime("%Y%m%d-%H%M%S")
    prometheus = PrometheusApi.from_config(config)
    backend = GunicornWorkers(config.paths.service_pid_file)
    timeline = Timeline()
    progress("starting the local stack")
    stack.up()
    try:
        began = time.time()
        time.sleep(2 * config.prometheus.scrape_interval_seconds)  # Prometheus has seen every target
        url = f"http://{config.service.host}:{config.service.port}"
        key = KeyStore(config.paths.keys_file).renew("loadtest")
        low = max(1, plan.peak_users // 5)
        progress(f"steady load ({low} users) for the baseline")
        _run_load(LoadRun("steady", low, plan.steady_seconds, url, key, out_dir / "steady", plan.rate_per_user),
                  config, backend, timeline)
        from modelwatch.reports.baseline_recording import record

        _, _, baseline = record(config, int(plan.steady_seconds - 10))
        progress(f"step load: {low} -> {plan.peak_users} -> {low} users")
        load_started = time.time()
        labelling = LoadRun("labels", plan.labelling_users, plan.step_seconds, url, key, out_dir / "labels",
                            plan.rate_per_user, config.model.name, plan.labels)
        labeller = start(labelling, config)
        load = _run_load(LoadRun("step", plan.peak_users, plan.step_seconds, url, key, out_dir / "step",
                                 plan.rate_per_user), config, backend, timeline)
        labeller.wait()
        labelled = client_figures(labelling)
        step_start, step_end = load_started + 0.3 * plan.step_seconds, load_started + 0.7 * plan.step_seconds
        progress("load over: waiting for the scale-down")
        settle_until = time.time() + plan.settle_seconds
        while time.time() < settle_until:
            _sample(backend, timeline, _autoscaler_url(config))
            if timeline.points[-1][1] <= config.autoscaler.min_replicas and time.time() > step_end + 20:
                break
            time.sleep(1)
        end = time.time() + config.prometheus.scrape_interval_seconds
        time.sleep(config.prometheus.scrape_interval_seconds)  # the last samples are scraped
        progress("reading the results and writing the report")
        return _results(config, prometheus, out_dir, baseline, load, began, end, step_start, step_end, timeline,
                        labelled)
    finally:
        if not keep:
            stack.down()


def _results(config, prometheus, out_dir, baseline, load, began, end, step_start, step_end, timeline,
             labelled) -> DemoResult:
    from modelwatch.reports.report import write

    selectors = queries.Selectors(config)
    step = config.prometheus.scrape_interval_seconds
    # Latency as the dashboards and alerts see it, and the SLO judged as the burn-rate rules judge it.
    p95 = [(t, v) for s in prometheus.query_range(queries.api_latency_quantile("0.95", selectors), began, end, step)
           for t, v in s.points if v == v]
    latency_bad = [(t, v) for s in prometheus.query_range(queries.slo_bad_share("latency", "5m", selectors),
                                                          began, end, step)
                   for t, v in s.points if v == v]
    rps = [v for s in prometheus.query_range(queries.api_request_rate(selectors, "30s"), began, end, step)
           for _, v in s.points]
    errors = prometheus.query(queries.api_server_errors(selectors, f"{int(end - began)}s"), at=end)
    before = max((n for t, n in timeline.points if t < step_start), default=1)
    allowed_bad = 1 - config.slo.latency_target
    timings = {
        "step_to_scale_up_decision": _first(timeline.desired, step_start, lambda v: v > before),
        "step_to_new_replicas": _first(timeline.points, step_start, lambda v: v > before),
        "step_to_latency_slo_met": _first(latency_bad, step_start + 1, lambda v: v <= allowed_bad),
        "load_fall_to_scale_down": _first(timeline.points, step_end, lambda v: v <= config.autoscaler.min_replicas),
    }
    boot = config.autoscaler.readiness_delay_seconds
    new_workers = {pid: timeline.served_cpu(pid, boot) for pid, seen in timeline.first_seen.items()
                   if seen >= step_start - 1}
    report_path = out_dir / "report.html"
    report = write(config, report_path, began, end, title="modelwatch demo")
    return DemoResult(out_dir, report_path, baseline, load, step_start, step_end, timeline, timings,
                      max(rps, default=0.0), max((v for _, v in p95), default=0.0),
                      errors[0].value if errors else 0.0, report.alerts, new_workers, labelled, report.quality)
