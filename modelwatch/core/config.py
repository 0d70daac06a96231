"""One typed configuration for every part of modelwatch.

Values come from, in rising priority: the defaults below, a YAML file
(``--config``, ``$MODELWATCH_CONFIG`` or ``./modelwatch.yaml``), and environment
variables named ``MODELWATCH_<SECTION>__<FIELD>`` (e.g. ``MODELWATCH_SERVICE__PORT=8080``).
Every bad value is reported at once, in one line.

    >>> cfg = load_config(env={"MODELWATCH_SERVICE__PORT": "8080"})
    >>> cfg.service.port
    8080
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from modelwatch.core.errors import ConfigError

ENV_PREFIX = "MODELWATCH_"
# The names each choice accepts; the tables that act on them (model_service.predictors.PREDICTORS,
# autoscaler.backends.BACKENDS, core.queries.SCALING_METRICS) live with their parts, and a test
# keeps both sides the same.
PREDICTOR_KINDS = ("fast", "onnx", "native")
AUTOSCALER_BACKENDS = ("workers", "compose")
SCALING_METRIC_NAMES = ("requests", "cpu", "inflight")
DEFAULT_FILE = Path("modelwatch.yaml")
MULTIPROC_DIR_NAME = "prometheus-multiproc"  # beside the service's pid file in paths.run_dir


@dataclass(frozen=True)
class PathsConfig:
    # Everything modelwatch writes lives below this folder.
    state_dir: Path = Path("var")
    # The API keys file when it is not state_dir/keys.json: on Kubernetes, inside the
    # keys Secret's mounted folder, so the kubelet's updates reach the service.
    keys_path: str = ""
    # The prediction-id key when it is not state_dir/secrets/prediction-id.key: on
    # Kubernetes, inside its Secret's mounted folder (every replica must share it).
    prediction_id_key_path: str = ""
    # The key signing registered versions when it is not state_dir/secrets/registry.key:
    # outside the registry, so whoever can write the registry cannot sign what is in it.
    registry_key_path: str = ""

    @property
    def registry_dir(self) -> Path:
        return self.state_dir / "models"

    @property
    def keys_file(self) -> Path:
        return Path(self.keys_path) if self.keys_path else self.state_dir / "keys.json"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def multiproc_dir(self) -> Path:
        return self.run_dir / MULTIPROC_DIR_NAME

    @property
    def service_pid_file(self) -> Path:
        return self.run_dir / "service.pid"

    @property
    def labelled_ids_file(self) -> Path:
        # Which predictions were labelled already (model_service/feedback.py), shared by the workers.
        return self.state_dir / "feedback" / "labelled.sqlite"

    @property
    def prediction_id_key_file(self) -> Path:
        # Signs prediction ids: every worker and replica must share it (mount it where replicas run).
        if self.prediction_id_key_path:
            return Path(self.prediction_id_key_path)
        return self.state_dir / "secrets" / "prediction-id.key"

    @property
    def registry_key_file(self) -> Path:
        return Path(self.registry_key_path) if self.registry_key_path else self.state_dir / "secrets" / "registry.key"


@dataclass(frozen=True)
class ModelConfig:
    name: str = "iris"
    # Number of quantile buckets per feature in the data baseline (plus one
    # bucket below and one above the training range).
    feature_buckets: int = 10
    # A categorical feature's series: its most frequent reference categories, then other, unseen, missing.
    top_categories: int = 10
    # Registration refuses a version whose model series per replica would exceed this.
    series_budget: int = 2000
    random_seed: int = 7


@dataclass(frozen=True)
class ServiceConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    # Two, not four: a worker's threads share one GIL, so four requests in a worker all finish
    # late together, while two leave the rest queued in order: p99 0.69-0.86x of four's, for
    # 6-16 % fewer requests a second at saturation (bench/README "Tail latency"). Four suit
    # throughput-bound batch scoring; more help only with slow I/O.
    threads: int = 2
    # "fast": exact numpy evaluation of the linear model; "onnx": onnxruntime on
    # the portable artifact; "native": scikit-learn's predict_proba.
    predictor: str = "fast"
    instrumentation: bool = True
    max_batch_size: int = 1000
    max_body_bytes: int = 1_048_576
    # Bearer token for /metrics; empty leaves /metrics open (loopback default).
    metrics_token: str = ""
    # Serve /metrics on this port of service.host only (and the API not there), so it is
    # reachable where Prometheus scrapes and not by every API client; 0: on the API port.
    metrics_port: int = 0
    graceful_timeout_seconds: int = 30
    # Restart a worker after this many requests (0: never); bounded metric files
    # make this safe.
    max_requests: int = 0
    # Close a kept-alive connection after this many requests, so that clients
    # reconnect and workers added by the autoscaler get their share.
    keepalive_max_requests: int = 100
    # After loading models, freeze the workers' long-lived objects out of the garbage
    # collector's full passes (model_service/heap.py): they cost 100-400 ms pauses.
    freeze_heap: bool = True
    reload_poll_seconds: float = 1.0
    # How often each worker writes its recorded metrics to the shared files. A
    # worker also writes its own before answering a scrape, so only the other
    # workers' last interval can be missing from a scrape.
    metrics_flush_seconds: float = 1.0
    # The Open Inference Protocol over gRPC, on this port of service.host (every worker
    # listens on it; the kernel spreads connections). 0 switches gRPC off.
    grpc_port: int = 8001
    # Serve on this unix socket instead of host:port. The local stack sets it when
    # its edge proxy takes host:port (see EdgeConfig); empty: TCP on host:port.
    socket: str = ""


@dataclass(frozen=True)
class EdgeConfig:
    """HAProxy in front of the local service (``modelwatch up``). It listens on
    service.host:service.port and hands gunicorn only complete requests, over a unix
    socket: a client that stalls mid-request holds an HAProxy connection (cheap, event
    driven), never one of gunicorn's few worker threads."""

    enabled: bool = True
    # The whole request head (and a body up to 16 KiB) must arrive within this; else 408.
    request_timeout_seconds: float = 5.0
    # An idle client connection (between or inside requests) is closed after this.
    client_timeout_seconds: float = 30.0
    # A request that waited this long for the service to answer gets a 504.
    server_timeout_seconds: float = 60.0
    max_connections: int = 4096
    # HAProxy's own Prometheus metrics (what clients saw, 5xx it made itself included).
    metrics_port: int = 9101
    # Behind the edge the service serves its /metrics here (service.metrics_port), not
    # through the API port: API clients cannot reach it or load it.
    service_metrics_port: int = 9102


@dataclass(frozen=True)
class FeedbackConfig:
    """Labels sent after the fact to POST /api/v1/models/NAME/feedback, joined to their predictions."""

    # A label for a prediction older than this is refused (counted as expired): the record of
    # labelled ids, which keeps a label from counting twice, covers this long.
    horizon_days: float = 14.0
    # Labels each worker takes a second, on average (model_service/label_budget.py): a request
    # beyond it is refused whole with 429 and Retry-After, so a labelling job's backlog cannot take
    # the CPU predictions need. 0: no limit.
    max_labels_per_second: float = 500.0


@dataclass(frozen=True)
class ExporterConfig:
    host: str = "127.0.0.1"
    port: int = 9188
    # Comma-separated collector names; see exporter/collectors/__init__.py.
    # Leave out "host" where a real node_exporter scrapes the same machine.
    collectors: str = "baseline,host,process"
    # A scrape waits at most this long for a collector; a slower one is served
    # from its last complete collection (with its age as a metric).
    collector_deadline_seconds: float = 2.0
    # The process collector follows the service's pid file (paths.service_pid_file)
    # and, when set, also processes whose command line matches this regex.
    process_pattern: str = ""
    process_groupname: str = "model-service"
    # The docker collector reports only containers with this label (key or key=value); empty: all.
    docker_label_filter: str = ""
    # It follows the engine's events and lists containers this often as well, in case an event was missed.
    docker_refresh_seconds: float = 60.0
    # Where it reads container counters from (the host's, mounted read-only when the exporter runs in a container).
    cgroup_root: str = "/sys/fs/cgroup"
    proc_root: str = "/proc"
    # The kubernetes collector: comma-separated namespaces, listed in the background this often.
    kubernetes_namespaces: str = "default"
    kubernetes_refresh_seconds: float = 30.0
    # Each call to the API gives up after this long; a listing older than refresh + timeout fails the collector.
    kubernetes_request_timeout_seconds: float = 10.0
    # Lists are fetched this many objects a call (the API's limit/continue), each page cut down before the next.
    kubernetes_list_page_size: int = 500
    # The probe collector calls the service as a client would.
    probe_url: str = "http://127.0.0.1:8000"
    probe_key: str = ""  # an API key for the probe: modelwatch keys add probe
    probe_interval_seconds: float = 5.0
    probe_timeout_seconds: float = 2.0

    @property
    def kubernetes_namespace_list(self) -> list[str]:
        return [name.strip() for name in self.kubernetes_namespaces.split(",") if name.strip()]

    @property
    def enabled_collectors(self) -> list[str]:
        return [name.strip() for name in self.collectors.split(",") if name.strip()]


@dataclass(frozen=True)
class SloConfig:
    """Service level objectives over a rolling period; they drive the burn-rate alerts."""

    period_days: int = 30
    # Share of API requests answered without a 5xx.
    availability_target: float = 0.999
    # Share of API requests answered within latency_threshold_seconds, which
    # must be one of the service's latency histogram bucket bounds.
    latency_target: float = 0.99
    latency_threshold_seconds: float = 0.25
    # Which routes the SLOs cover (regex on http_route): the model API, not
    # health checks or /metrics.
    route_regex: str = "/api/v1/.+"


# The drift thresholds a model may set for itself (alerts.models).
MODEL_THRESHOLDS = ("drift_psi_warning", "drift_psi_critical", "drift_ks_warning", "drift_ks_critical",
                    "drift_js_warning", "drift_js_critical", "out_of_range_warning", "unseen_share_warning",
                    "missing_share_increase", "drift_feature_share")
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # what the registry accepts


@dataclass(frozen=True)
class AlertsConfig:
    """Selectors and thresholds of the generated Prometheus rules."""

    # Scrape job names, as in the Prometheus configuration of every runtime.
    service_job: str = "model-service"
    exporter_job: str = "modelwatch-exporter"
    # Every alert links to its section of the runbooks (this URL + "#" + lower-cased name).
    runbook_url: str = "https://github.com/modelwatch/modelwatch/blob/main/docs/runbooks.md"
    # Container name of a replica in compose (service label) and Kubernetes.
    replica_container: str = "model-service"
    # Drift over the last hour: Population Stability Index and KS distance per
    # feature (and PSI of the predicted class mix) against the training baseline.
    drift_psi_warning: float = 0.1
    drift_psi_critical: float = 0.25
    drift_ks_warning: float = 0.1
    drift_ks_critical: float = 0.2
    # Jensen-Shannon distance (base 2, 0..1) of a categorical feature's categories against the reference.
    drift_js_warning: float = 0.1
    drift_js_critical: float = 0.2
    # Fewer rows than this in the hour: no drift figure (too noisy to judge).
    drift_min_rows: int = 200
    # Share of a feature's values outside the training range.
    out_of_range_warning: float = 0.05
    # Share of a categorical feature's values in categories the reference never had.
    unseen_share_warning: float = 0.05
    # Rise of a feature's missing share over its reference share (0.1: ten points more rows missing it).
    missing_share_increase: float = 0.1
    # Share of a model version's features drifting at once (PSI over drift_psi_warning) that is alerted as one.
    drift_feature_share: float = 0.5
    # Per-model drift thresholds, over the ones above: {model name: {setting: value}} for any of
    # MODEL_THRESHOLDS (e.g. {"penguins": {"unseen_share_warning": 0.2}}). In the environment: YAML text.
    models: dict[str, dict[str, float]] = field(default_factory=dict)
    # Deviation from the recorded performance baseline of the serving version.
    baseline_factor: float = 1.5
    baseline_error_ratio_margin: float = 0.01
    # Canary worse than stable by this factor (p95 inference time, error ratio).
    canary_factor: float = 1.5
    # Live quality from labels (POST .../feedback) against the reference quality of the version:
    # accuracy or macro-F1 this many points below it, or RMSE this factor above it, over the
    # last 10 minutes, once at least quality_min_labels labels arrived in them.
    quality_margin: float = 0.05
    quality_error_factor: float = 1.25
    quality_min_labels: int = 100
    # Labels arrived in the last day but none for this long while predictions go on.
    feedback_silence: str = "6h"
    # Canary and baseline comparisons need at least this much traffic to mean anything.
    min_requests_per_second: float = 0.1
    # Request rate this many standard deviations from its expected level.
    request_rate_zscore: float = 3.0
    # Traffic gone to zero: only when the usual (last day) rate is above this.
    traffic_drop_min_requests_per_second: float = 0.05
    # One Python worker tops out near one core (the GIL).
    replica_cpu_saturation_cores: float = 0.9
    replica_memory_limit_ratio: float = 0.9
    # Reversals of the desired replicas' direction (up then down, or down then up) in 30 minutes:
    # a step load and its end is one, real oscillation many.
    autoscaler_flap_reversals: int = 4


    def for_model(self, name: str) -> "AlertsConfig":
        """These settings with the model's own drift thresholds (alerts.models) applied."""
        return dataclasses.replace(self, **self.models.get(name, {}), models={})

    def drift_problems(self, where: str = "alerts") -> list[str]:
        problems = [f"{where}.{name}: must be above 0" for name in MODEL_THRESHOLDS if getattr(self, name) <= 0]
        if self.drift_psi_critical < self.drift_psi_warning:
            problems.append(f"{where}.drift_psi_critical: must not be below drift_psi_warning")
        if self.drift_ks_critical < self.drift_ks_warning:
            problems.append(f"{where}.drift_ks_critical: must not be below drift_ks_warning")
        if not 0 < self.drift_js_warning <= self.drift_js_critical <= 1:
            problems.append(f"{where}.drift_js_warning, drift_js_critical: must be 0 < warning <= critical <= 1")
        return problems


@dataclass(frozen=True)
class PrometheusConfig:
    """The Prometheus and Alertmanager of the local runtime."""

    host: str = "127.0.0.1"
    port: int = 9090
    scrape_interval_seconds: float = 15.0
    evaluation_interval_seconds: float = 15.0
    # The per-bucket drift rules run in this many groups, a feature's group being its slot (core/series.py)
    # modulo this; Prometheus evaluates groups in parallel. At 5 models x 30 features x 10 replicas one
    # group took ~370 ms an evaluation; 64 shards 6-22 ms each on Prometheus 2.42, where 32 left single
    # evaluations over 50 ms (bench/README.md, *Balanced shards*). An empty shard costs ~0.4 ms an
    # evaluation for its rates and ~3 ms a minute for its figures. A divisor of 64 spreads the slots evenly.
    drift_shards: int = 64
    # The drift figures over the hour (PSI, KS, JS, shares) are recomputed every this many evaluations;
    # the raw counters' one-minute rates, which they sum, every evaluation. Drift alerts wait 15 minutes.
    drift_every_evaluations: int = 4
    retention: str = "15d"
    alertmanager_port: int = 9093
    # Webhooks for paging (critical) and ticket (warning) alerts; empty: not sent anywhere.
    page_webhook_url: str = ""
    ticket_webhook_url: str = ""
    # A dead-man's switch (healthchecks.io and the like): ModelwatchWatchdog always fires and is
    # posted here every minute; the service there alerts when the posts stop. Empty: nowhere.
    watchdog_webhook_url: str = ""


@dataclass(frozen=True)
class AutoscalerConfig:
    """The local autoscaler: the Kubernetes HPA algorithm on a Prometheus metric.

    Defaults are Kubernetes' own (sync every 15 s, tolerance 0.1, scale down
    after a 300 s stabilization window, up by 100 % or 4 replicas per 15 s).
    """

    host: str = "127.0.0.1"
    port: int = 9189
    # requests: API requests per second per replica; cpu: cores per replica;
    # inflight: requests in flight per replica.
    metric: str = "requests"
    target_requests_per_second: float = 40.0
    target_cpu_cores: float = 0.6
    target_inflight: float = 4.0
    min_replicas: int = 1
    max_replicas: int = 4
    # The pods a Kubernetes HPA or KEDA may run (the local bounds are one machine's workers).
    kubernetes_min_replicas: int = 2
    kubernetes_max_replicas: int = 10
    sync_period_seconds: float = 15.0
    tolerance: float = 0.1
    # A new replica counts as not ready for this long (it is loading the models).
    readiness_delay_seconds: float = 5.0
    scale_up_stabilization_seconds: float = 0.0
    scale_down_stabilization_seconds: float = 300.0
    scale_up_percent: int = 100
    scale_up_pods: int = 4
    scale_up_period_seconds: float = 15.0
    scale_down_percent: int = 100
    scale_down_period_seconds: float = 15.0
    # What it scales: "workers" (the local service's gunicorn workers) or "compose"
    # (the containers of a compose service, through the Docker engine).
    backend: str = "workers"
    compose_project: str = "modelwatch"
    compose_service: str = "model-service"
    # The labels of its kube-state-metrics-shaped series.
    namespace: str = "local"
    name: str = "model-service"


@dataclass(frozen=True)
class Config:
    paths: PathsConfig = field(default_factory=PathsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    edge: EdgeConfig = field(default_factory=EdgeConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    exporter: ExporterConfig = field(default_factory=ExporterConfig)
    slo: SloConfig = field(default_factory=SloConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    autoscaler: AutoscalerConfig = field(default_factory=AutoscalerConfig)

    def validate(self) -> list[str]:
        problems = []
        if self.service.predictor not in PREDICTOR_KINDS:
            problems.append(f"service.predictor: must be fast, onnx or native, not {self.service.predictor!r}")
        for name in ("port", "workers", "threads", "max_batch_size", "max_body_bytes", "keepalive_max_requests"):
            if getattr(self.service, name) < 1:
                problems.append(f"service.{name}: must be at least 1")
        for name in ("metrics_flush_seconds", "reload_poll_seconds"):
            if getattr(self.service, name) <= 0:
                problems.append(f"service.{name}: must be above 0")
        if not 0 < self.feedback.horizon_days <= 3650:
            problems.append("feedback.horizon_days: must be above 0 and at most 3650")
        if not 0 <= self.feedback.max_labels_per_second < math.inf:
            problems.append("feedback.max_labels_per_second: must be 0 (no limit) or above")
        for name in ("request_timeout_seconds", "client_timeout_seconds", "server_timeout_seconds"):
            if getattr(self.edge, name) <= 0:
                problems.append(f"edge.{name}: must be above 0")
        if self.edge.max_connections < 1 or not 1 <= self.edge.metrics_port <= 65535:
            problems.append("edge.max_connections, edge.metrics_port: must be at least 1 (a port at most 65535)")
        if not 0 <= self.service.grpc_port <= 65535 or (
                self.service.grpc_port and self.service.grpc_port in (self.service.port, self.service.metrics_port)):
            problems.append("service.grpc_port: a port of its own (0 switches gRPC off)")
        if not 1 <= self.edge.service_metrics_port <= 65535:
            problems.append("edge.service_metrics_port: must be a port, 1 to 65535")
        if self.service.metrics_port and (not 1 <= self.service.metrics_port <= 65535
                                          or self.service.metrics_port == self.service.port):
            problems.append("service.metrics_port: must be 0 (on the API port) or another port, 1 to 65535")
        if self.exporter.process_pattern:
            try:
                re.compile(self.exporter.process_pattern)
            except re.error as exc:
                problems.append(f"exporter.process_pattern: not a regular expression ({exc})")
        label = self.exporter.docker_label_filter
        if label and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*(=[^\s]*)?", label):
            problems.append(f"exporter.docker_label_filter: expected key or key=value, not {label!r}")
        if not 1 <= self.exporter.kubernetes_list_page_size <= 10_000:
            problems.append("exporter.kubernetes_list_page_size: must be from 1 to 10000")
        for name in ("collector_deadline_seconds", "docker_refresh_seconds", "kubernetes_refresh_seconds",
                     "kubernetes_request_timeout_seconds"):
            if getattr(self.exporter, name) <= 0:
                problems.append(f"exporter.{name}: must be above 0")
        if self.model.feature_buckets < 2:
            problems.append("model.feature_buckets: must be at least 2")
        if self.model.top_categories < 1:
            problems.append("model.top_categories: must be at least 1")
        if self.model.series_budget < 1:
            problems.append("model.series_budget: must be at least 1")
        for name in ("availability_target", "latency_target"):
            if not 0 < getattr(self.slo, name) < 1:
                problems.append(f"slo.{name}: must be between 0 and 1 (e.g. 0.999)")
        # the SLO counts requests per bucket; a drift shard is a feature's slot modulo drift_shards
        from modelwatch.core.series import FEATURE_SLOTS, HTTP_DURATION_BUCKETS

        if self.slo.latency_threshold_seconds not in HTTP_DURATION_BUCKETS:
            problems.append(
                "slo.latency_threshold_seconds: must be a latency bucket bound, one of "
                + ", ".join(f"{b:g}" for b in HTTP_DURATION_BUCKETS)
            )
        if self.slo.period_days < 1:
            problems.append("slo.period_days: must be at least 1")
        try:
            re.compile(self.slo.route_regex)
        except re.error as exc:
            problems.append(f"slo.route_regex: not a regular expression ({exc})")
        if not 0 < self.alerts.quality_margin < 1 or self.alerts.quality_error_factor <= 1:
            problems.append("alerts.quality_margin: must be between 0 and 1, alerts.quality_error_factor above 1")
        if self.alerts.quality_min_labels < 1:
            problems.append("alerts.quality_min_labels: must be at least 1")
        if not re.fullmatch(r"[1-9][0-9]*[mh]", self.alerts.feedback_silence):
            problems.append(f"alerts.feedback_silence: a duration in minutes or hours (6h), not {self.alerts.feedback_silence!r}")
        for name in ("baseline_factor", "canary_factor", "request_rate_zscore"):
            if getattr(self.alerts, name) <= 0:
                problems.append(f"alerts.{name}: must be above 0")
        problems += self.alerts.drift_problems()
        for model in sorted(self.alerts.models):
            problems += self.alerts.for_model(model).drift_problems(f"alerts.models.{model}")
        scaler = self.autoscaler
        if scaler.backend not in AUTOSCALER_BACKENDS:
            problems.append(f"autoscaler.backend: must be workers or compose, not {scaler.backend!r}")
        if scaler.metric not in SCALING_METRIC_NAMES:
            problems.append(f"autoscaler.metric: must be requests, cpu or inflight, not {scaler.metric!r}")
        if not 1 <= scaler.min_replicas <= scaler.max_replicas:
            problems.append("autoscaler.min_replicas: must be at least 1 and at most max_replicas")
        if not 1 <= scaler.kubernetes_min_replicas <= scaler.kubernetes_max_replicas:
            problems.append("autoscaler.kubernetes_min_replicas: must be at least 1 and at most kubernetes_max_replicas")
        for name in ("target_requests_per_second", "target_cpu_cores", "target_inflight", "sync_period_seconds"):
            if getattr(scaler, name) <= 0:
                problems.append(f"autoscaler.{name}: must be above 0")
        for name in ("scale_up_percent", "scale_up_pods", "scale_down_percent"):
            if getattr(scaler, name) < 1:
                problems.append(f"autoscaler.{name}: must be at least 1")
        if not 1 <= self.prometheus.drift_shards <= FEATURE_SLOTS:
            problems.append(f"prometheus.drift_shards: must be between 1 and {FEATURE_SLOTS}")
        if not 1 <= self.prometheus.drift_every_evaluations <= 20:
            problems.append("prometheus.drift_every_evaluations: must be between 1 and 20")
        for name in ("scrape_interval_seconds", "evaluation_interval_seconds"):
            if not 0 < getattr(self.prometheus, name) <= 30:
                problems.append(f"prometheus.{name}: must be above 0 and at most 30 (the drift rules read 1-minute rates)")
        return problems


def _coerce(value: Any, kind: type, where: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{where}: expected true or false, got {value!r}")
    if kind in (int, float):
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected {'an integer' if kind is int else 'a number'}, got {value!r}") from None
    if kind is Path:
        return Path(str(value))
    if typing.get_origin(kind) is dict:
        return _model_thresholds(value, where)
    return str(value)


def _model_thresholds(value: Any, where: str) -> dict[str, dict[str, float]]:
    """alerts.models: a mapping (or YAML text, from the environment) of model names to drift thresholds."""
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value) or {}
        except yaml.YAMLError:
            raise ValueError(f"{where}: not valid YAML") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a mapping of model names to thresholds")
    models: dict[str, dict[str, float]] = {}
    for model, settings in value.items():
        if not MODEL_NAME_PATTERN.match(str(model)):
            raise ValueError(f"{where}: {model!r} is not a model name (letters, digits, '.', '_', '-')")
        if not isinstance(settings, dict):
            raise ValueError(f"{where}.{model}: expected a mapping of thresholds")
        unknown = sorted(set(map(str, settings)) - set(MODEL_THRESHOLDS))
        if unknown:
            raise ValueError(f"{where}.{model}: {', '.join(unknown)}: not a per-model threshold "
                             f"(one of {', '.join(MODEL_THRESHOLDS)})")
        models[str(model)] = {str(k): _coerce(v, float, f"{where}.{model}.{k}") for k, v in settings.items()}
    return models


def _build_section(cls: type, values: Mapping[str, Any], section: str, problems: list[str]) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            problems.append(f"{section}.{key}: unknown setting")
            continue
        try:
            kwargs[key] = _coerce(value, hints[key], f"{section}.{key}")
        except ValueError as exc:
            problems.append(str(exc))
    return cls(**kwargs)


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    overrides: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        overrides.setdefault(section, {})[key] = value
    return overrides


def load_config(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the configuration file (if any) and apply environment overrides."""
    env = os.environ if env is None else env
    if path is None and env.get("MODELWATCH_CONFIG"):
        path = env["MODELWATCH_CONFIG"]
    if path is None and DEFAULT_FILE.exists():
        path = DEFAULT_FILE
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections")
    problems: list[str] = []
    sections = {f.name: f.default_factory for f in dataclasses.fields(Config)}
    merged: dict[str, dict[str, Any]] = {}
    for section, values in raw.items():
        if section not in sections:
            problems.append(f"{section}: unknown section")
        elif not isinstance(values, dict):
            problems.append(f"{section}: must be a mapping")
        else:
            merged[section] = dict(values)
    for section, values in _env_overrides(env).items():
        if section not in sections:
            problems.append(f"{ENV_PREFIX}{section.upper()}__*: unknown section {section!r}")
            continue
        merged.setdefault(section, {}).update(values)
    built = {
        name: _build_section(type(factory()), merged.get(name, {}), name, problems)
        for name, factory in sections.items()
    }
    config = Config(**built)
    problems.extend(config.validate())
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return config


def config_to_yaml(config: Config) -> str:
    """The whole configuration as a YAML file that load_config reads back unchanged."""
    document = {
        section.name: {key: str(value) if isinstance(value, Path) else value
                       for key, value in dataclasses.asdict(getattr(config, section.name)).items()}
        for section in dataclasses.fields(config)
    }
    return yaml.safe_dump(document, sort_keys=False)
