"""Every PromQL expression and recorded series name that more than one part
reads: the rules record the names below (a test proves each is recorded), and
the dashboards, the report, the demo, the baseline recording, the autoscaler,
the load gate and the Kubernetes manifests import them from here instead of
writing their own. One definition of "the API's requests", of p95 and of the
latency SLO, wherever it is read.

    >>> from modelwatch.core.config import Config
    >>> Selectors(Config()).api
    'job="model-service", http_route=~"/api/v1/.+"'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from prometheus_client.utils import floatToGoString

from modelwatch.core.config import Config
from modelwatch.core.runtimes import RUNTIMES
from modelwatch.core.series import bucket_label

HTTP_DURATION = "http_server_request_duration_seconds"
RPC_DURATION = "rpc_server_duration_milliseconds"
# gRPC status codes that are the server's fault, as 5xx are over HTTP: UNKNOWN, DEADLINE_EXCEEDED,
# INTERNAL, UNAVAILABLE, DATA_LOSS
RPC_SERVER_ERROR_CODES = "2|4|13|14|15"
# The latency quantiles recorded per route, job and version, and kept in a performance baseline.
LATENCY_QUANTILES = ("0.5", "0.95", "0.99")


@dataclass(frozen=True)
class Selectors:
    """Label selectors from the one configuration."""

    config: Config

    @property
    def service(self) -> str:
        return f'job="{self.config.alerts.service_job}"'

    @property
    def exporter(self) -> str:
        return f'job="{self.config.alerts.exporter_job}"'

    @property
    def api_routes(self) -> str:
        """The routes the SLOs and per-job figures cover: the model API's, not health checks or /metrics."""
        return f'http_route=~"{self.config.slo.route_regex}"'

    @property
    def api(self) -> str:
        """The service's requests to the model API."""
        return f"{self.service}, {self.api_routes}"

    @property
    def process_group(self) -> str:
        return f'groupname="{self.config.exporter.process_groupname}"'

    @property
    def latency_le(self) -> str:
        """The SLO latency threshold as the service histogram's ``le`` label value."""
        return floatToGoString(self.config.slo.latency_threshold_seconds)

    @property
    def grpc_inference(self) -> str:
        """The service's Open Inference Protocol ModelInfer calls over gRPC."""
        return f'{self.service}, rpc_service="inference.GRPCInferenceService", rpc_method="ModelInfer"'

    @property
    def grpc_latency_le(self) -> str:
        """The SLO latency threshold as the gRPC histogram's ``le`` (milliseconds)."""
        return floatToGoString(round(self.config.slo.latency_threshold_seconds * 1000, 3))

    @property
    def bucket_labels(self) -> list[str]:
        """Feature bucket labels of the data baseline: below range, the quantile buckets, above range."""
        return [bucket_label(i) for i in range(self.config.model.feature_buckets + 2)]

    @property
    def autoscaler_hpa(self) -> str:
        """The local autoscaler's series, shaped like kube-state-metrics' for one HPA."""
        scaler = self.config.autoscaler
        return f'namespace="{scaler.namespace}", horizontalpodautoscaler="{scaler.name}"'


# -- recorded series (the rules record each; consumers read them by these names) --

# job
JOB_HTTP_SERVER_REQUEST_DURATION_SECONDS_HISTOGRAM_QUANTILE = "job:http_server_request_duration_seconds:histogram_quantile"
JOB_HTTP_SERVER_REQUEST_ERRORS_RATIO_RATE5M = "job:http_server_request_errors:ratio_rate5m"
JOB_HTTP_SERVER_REQUESTS_AVG_OVER_TIME_1D_RATE5M = "job:http_server_requests:avg_over_time_1d_rate5m"
JOB_HTTP_SERVER_REQUESTS_AVG_OVER_TIME_1W_RATE5M = "job:http_server_requests:avg_over_time_1w_rate5m"
JOB_HTTP_SERVER_REQUESTS_PREDICTION_RATE5M = "job:http_server_requests:prediction_rate5m"
JOB_HTTP_SERVER_REQUESTS_RATE5M = "job:http_server_requests:rate5m"
JOB_HTTP_SERVER_REQUESTS_RATE5M_EVERY5M = "job:http_server_requests:rate5m_every5m"
JOB_HTTP_SERVER_REQUESTS_STDDEV_OVER_TIME_1D_RATE5M = "job:http_server_requests:stddev_over_time_1d_rate5m"
JOB_HTTP_SERVER_REQUESTS_ZSCORE_RATE5M = "job:http_server_requests:zscore_rate5m"

JOB_RPC_SERVER_INFERENCE_CALL_ERRORS_RATIO_RATE5M = "job:rpc_server_inference_call_errors:ratio_rate5m"
JOB_RPC_SERVER_INFERENCE_CALLS_RATE5M = "job:rpc_server_inference_calls:rate5m"
JOB_RPC_SERVER_INFERENCE_DURATION_MILLISECONDS_HISTOGRAM_QUANTILE = "job:rpc_server_inference_duration_milliseconds:histogram_quantile"

# job_code
JOB_CODE_RPC_SERVER_INFERENCE_CALLS_RATE5M = "job_code:rpc_server_inference_calls:rate5m"

# job_le
JOB_LE_RPC_SERVER_INFERENCE_DURATION_MILLISECONDS_BUCKET_RATE5M = "job_le:rpc_server_inference_duration_milliseconds_bucket:rate5m"

# job_model_version
JOB_MODEL_VERSION_LE_MODEL_INFERENCE_DURATION_SECONDS_BUCKET_RATE5M = "job_model_version_le:model_inference_duration_seconds_bucket:rate5m"
JOB_MODEL_VERSION_MODEL_INFERENCE_DURATION_SECONDS_HISTOGRAM_QUANTILE = "job_model_version:model_inference_duration_seconds:histogram_quantile"
JOB_MODEL_VERSION_MODEL_PREDICTION_ERRORS_RATIO_RATE5M = "job_model_version:model_prediction_errors:ratio_rate5m"
JOB_MODEL_VERSION_MODEL_PREDICTIONS_RATE5M = "job_model_version:model_predictions:rate5m"
JOB_MODEL_VERSION_OUTCOME_MODEL_PREDICTIONS_RATE5M = "job_model_version_outcome:model_predictions:rate5m"

# job_route
JOB_ROUTE_HTTP_SERVER_REQUEST_DURATION_SECONDS_HISTOGRAM_QUANTILE = "job_route:http_server_request_duration_seconds:histogram_quantile"
JOB_ROUTE_HTTP_SERVER_REQUEST_ERRORS_RATIO_RATE5M = "job_route:http_server_request_errors:ratio_rate5m"
JOB_ROUTE_HTTP_SERVER_REQUESTS_RATE5M = "job_route:http_server_requests:rate5m"

# job_route_le
JOB_ROUTE_LE_HTTP_SERVER_REQUEST_DURATION_SECONDS_BUCKET_RATE5M = "job_route_le:http_server_request_duration_seconds_bucket:rate5m"

# job_route_status
JOB_ROUTE_STATUS_HTTP_SERVER_REQUESTS_RATE5M = "job_route_status:http_server_requests:rate5m"

# model_version
MODEL_VERSION_MODEL_PREDICTED_CLASS_PSI1H = "model_version:model_predicted_class:psi1h"
MODEL_VERSION_MODEL_PREDICTED_CLASS_ROWS_INCREASE1H = "model_version:model_predicted_class_rows:increase1h"
MODEL_VERSION_MODELWATCH_BASELINE_CPU_SECONDS_PER_REQUEST_STABLE = "model_version:modelwatch_baseline_cpu_seconds_per_request:stable"
MODEL_VERSION_MODELWATCH_BASELINE_ERROR_RATIO_STABLE = "model_version:modelwatch_baseline_error_ratio:stable"
MODEL_VERSION_MODELWATCH_BASELINE_LATENCY_SECONDS_STABLE = "model_version:modelwatch_baseline_latency_seconds:stable"
MODEL_VERSION_MODELWATCH_BASELINE_MEMORY_BYTES_PER_REPLICA_STABLE = "model_version:modelwatch_baseline_memory_bytes_per_replica:stable"
MODEL_VERSION_MODELWATCH_BASELINE_REQUESTS_PER_SECOND_PER_REPLICA_STABLE = "model_version:modelwatch_baseline_requests_per_second_per_replica:stable"

# model_version_class
MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_FRACTION1H = "model_version_class:model_predicted_class:fraction1h"
MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_INCREASE1H = "model_version_class:model_predicted_class:increase1h"
MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_RATE1M = "model_version_class:model_predicted_class:rate1m"

# model_version_feature
MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_KS1H = "model_version_feature:model_input_feature:ks1h"
MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_OUT_OF_RANGE_RATIO1H = "model_version_feature:model_input_feature:out_of_range_ratio1h"
MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_PSI1H = "model_version_feature:model_input_feature:psi1h"
MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_ROWS_INCREASE1H = "model_version_feature:model_input_feature_rows:increase1h"

# model_version_feature_bucket
MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_CUMULATIVE_FRACTION1H = "model_version_feature_bucket:model_input_feature:cumulative_fraction1h"
MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_FRACTION1H = "model_version_feature_bucket:model_input_feature:fraction1h"
MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_INCREASE1H = "model_version_feature_bucket:model_input_feature:increase1h"
MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_RATE1M = "model_version_feature_bucket:model_input_feature:rate1m"

# modelwatch
MODELWATCH_CPU_SECONDS_PER_REQUEST_RATIO_RATE5M = "modelwatch:cpu_seconds_per_request:ratio_rate5m"
MODELWATCH_MEMORY_BYTES_PER_REPLICA_AVG = "modelwatch:memory_bytes_per_replica:avg"
MODELWATCH_MODEL_VERSION_INFO = "modelwatch:model_version:info"
MODELWATCH_REPLICA_CPU_SECONDS_RATE5M = "modelwatch:replica_cpu_seconds:rate5m"
MODELWATCH_REPLICA_MEMORY_BYTES_SUM = "modelwatch:replica_memory_bytes:sum"
MODELWATCH_REPLICA_MEMORY_LIMIT_BYTES_SUM = "modelwatch:replica_memory_limit_bytes:sum"
MODELWATCH_REPLICA_NETWORK_RECEIVE_BYTES_RATE5M = "modelwatch:replica_network_receive_bytes:rate5m"
MODELWATCH_REPLICA_NETWORK_TRANSMIT_BYTES_RATE5M = "modelwatch:replica_network_transmit_bytes:rate5m"
MODELWATCH_REPLICA_READ_BYTES_RATE5M = "modelwatch:replica_read_bytes:rate5m"
MODELWATCH_REPLICA_WRITE_BYTES_RATE5M = "modelwatch:replica_write_bytes:rate5m"
MODELWATCH_REPLICAS_COUNT = "modelwatch:replicas:count"
MODELWATCH_REQUESTS_PER_SECOND_PER_REPLICA_RATE5M = "modelwatch:requests_per_second_per_replica:rate5m"

# slo
SLO_ERROR_BUDGET_REMAINING_RATIO = "slo:error_budget_remaining:ratio"
SLO_OBJECTIVE_RATIO = "slo:objective:ratio"
SLO_SLI_BAD_AVG_OVER_TIME5M_RATE5M = "slo:sli_bad:avg_over_time5m_rate5m"
SLO_SLI_BAD_RATE5M = "slo:sli_bad:rate5m"
SLO_SLI_ERROR_RATIO_RATE1D = "slo:sli_error:ratio_rate1d"
SLO_SLI_ERROR_RATIO_RATE1H = "slo:sli_error:ratio_rate1h"
SLO_SLI_ERROR_RATIO_RATE2H = "slo:sli_error:ratio_rate2h"
SLO_SLI_ERROR_RATIO_RATE30M = "slo:sli_error:ratio_rate30m"
SLO_SLI_ERROR_RATIO_RATE3D = "slo:sli_error:ratio_rate3d"
SLO_SLI_ERROR_RATIO_RATE5M = "slo:sli_error:ratio_rate5m"
SLO_SLI_ERROR_RATIO_RATE6H = "slo:sli_error:ratio_rate6h"
SLO_SLI_TOTAL_AVG_OVER_TIME5M_RATE5M = "slo:sli_total:avg_over_time5m_rate5m"
SLO_SLI_TOTAL_RATE5M = "slo:sli_total:rate5m"

# registered models: categorical, missing and regression drift
MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_JS1H = "model_version_feature:model_input_feature:js1h"
MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_UNSEEN_RATIO1H = "model_version_feature:model_input_feature:unseen_ratio1h"
MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_RATE1M = "model_version_feature:model_input_feature_missing:rate1m"
MODEL_VERSION_MODEL_PREDICTIONS_RATE1M = "model_version:model_predictions:rate1m"
MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_RATIO1H = "model_version_feature:model_input_feature_missing:ratio1h"
MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_INCREASE_RATIO1H = "model_version_feature:model_input_feature_missing:baseline_increase1h"
MODEL_VERSION_BUCKET_MODEL_PREDICTION_BUCKET_RATE1M = "model_version_bucket:model_prediction_bucket:rate1m"
MODEL_VERSION_BUCKET_MODEL_PREDICTION_BUCKET_INCREASE1H = "model_version_bucket:model_prediction_bucket:increase1h"
MODEL_VERSION_MODEL_PREDICTION_BUCKET_ROWS_INCREASE1H = "model_version:model_prediction_bucket_rows:increase1h"
MODEL_VERSION_BUCKET_MODEL_PREDICTION_BUCKET_FRACTION1H = "model_version_bucket:model_prediction_bucket:fraction1h"
MODEL_VERSION_MODEL_PREDICTION_BUCKET_PSI1H = "model_version:model_prediction_bucket:psi1h"
MODEL_VERSION_MODEL_INPUT_FEATURE_DRIFTED_RATIO1H = "model_version:model_input_feature_drifted:ratio1h"
MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_REFERENCE_FRACTION = "model_version_feature_bucket:model_input_feature:reference_fraction"
MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_CATEGORICAL_FRACTION1H = (
    "model_version_feature_bucket:model_input_feature_categorical:fraction1h")
MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_CATEGORICAL_REFERENCE_FRACTION = (
    "model_version_feature_bucket:model_input_feature_categorical:reference_fraction")

# live quality from labels sent later (rules/quality.py), over QUALITY_WINDOWS
QUALITY_WINDOWS = ("10m", "1h", "1d")
MODEL_VERSION_MODEL_LABELS_INCREASE10M = "model_version:model_labels:increase10m"
MODEL_VERSION_MODEL_LABELS_INCREASE1H = "model_version:model_labels:increase1h"
MODEL_VERSION_MODEL_LABELS_INCREASE1D = "model_version:model_labels:increase1d"
MODEL_VERSION_MODEL_ACCURACY_RATIO10M = "model_version:model_accuracy:ratio10m"
MODEL_VERSION_MODEL_ACCURACY_RATIO1H = "model_version:model_accuracy:ratio1h"
MODEL_VERSION_MODEL_ACCURACY_RATIO1D = "model_version:model_accuracy:ratio1d"
MODEL_VERSION_MODEL_F1_MACRO_RATIO10M = "model_version:model_f1_macro:ratio10m"
MODEL_VERSION_MODEL_F1_MACRO_RATIO1H = "model_version:model_f1_macro:ratio1h"
MODEL_VERSION_MODEL_F1_MACRO_RATIO1D = "model_version:model_f1_macro:ratio1d"
MODEL_VERSION_MODEL_PREDICTION_ERROR_RMSE10M = "model_version:model_prediction_error:rmse10m"
MODEL_VERSION_MODEL_PREDICTION_ERROR_RMSE1H = "model_version:model_prediction_error:rmse1h"
MODEL_VERSION_MODEL_PREDICTION_ERROR_RMSE1D = "model_version:model_prediction_error:rmse1d"
MODEL_VERSION_MODEL_PREDICTION_ERROR_MAE1H = "model_version:model_prediction_error:mae1h"
MODEL_VERSION_MODEL_PREDICTION_ERROR_MAE1D = "model_version:model_prediction_error:mae1d"
MODEL_VERSION_MODEL_FEEDBACK_COVERAGE1D = "model_version:model_feedback:coverage1d"


def quality_record(level: str, metric: str, operation: str, window: str) -> str:
    """A recorded live-quality series, e.g. ("model_version_class", "model_f1", "ratio", "1h")."""
    return f"{level}:{metric}:{operation}{window}"


# namespace_horizontalpodautoscaler
HPA_DESIRED_REPLICAS_DIRECTION = "namespace_horizontalpodautoscaler:kube_horizontalpodautoscaler_status_desired_replicas:direction"


def slo_error_ratio(window: str) -> str:
    """The recorded share of bad API requests of an SLO over ``window`` (5m, 30m, 1h, 2h, 6h, 1d, 3d)."""
    return f"slo:sli_error:ratio_rate{window}"


def slo_bad_share(slo: str, window: str, selectors: Selectors) -> str:
    """The share of the service's API requests an SLO ("availability" or "latency")
    counts as bad over ``window``, as the burn-rate alerts read it."""
    return f'{slo_error_ratio(window)}{{{selectors.service}, slo="{slo}"}}'


def baseline_stable(metric: str) -> str:
    """The stable version's recorded performance baseline of ``metric``."""
    return f"model_version:modelwatch_baseline_{metric}:stable"


# Per class, for every quality window: counted labels, precision, recall and F1 (rules/quality.py).
QUALITY_CLASS_RECORDED = tuple(
    quality_record("model_version_class", metric, operation, window)
    for window in QUALITY_WINDOWS
    for metric, operation in (("model_labelled_predicted", "increase"), ("model_labelled_actual", "increase"),
                              ("model_labelled_correct", "increase"), ("model_precision", "ratio"),
                              ("model_recall", "ratio"), ("model_f1", "ratio")))

RECORDED = tuple(value for name, value in dict(globals()).items()
                 if name.isupper() and isinstance(value, str) and value.count(":") == 2) + QUALITY_CLASS_RECORDED


# -- expressions other parts evaluate ---------------------------------------------


def quoted(value: str) -> str:
    """``value`` as a PromQL string literal (a label value in a matcher)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def api_latency_quantile(quantile: str, selectors: Selectors) -> str:
    """The API's latency quantile as the dashboards and alerts see it (the recorded 5m figure)."""
    return f'{JOB_HTTP_SERVER_REQUEST_DURATION_SECONDS_HISTOGRAM_QUANTILE}{{{selectors.service}, quantile="{quantile}"}}'


def api_request_rate(selectors: Selectors, window: str) -> str:
    return f"sum(rate({HTTP_DURATION}_count{{{selectors.api}}}[{window}]))"


def api_requests(selectors: Selectors, window: str) -> str:
    """API requests over ``window``."""
    return f"sum(increase({HTTP_DURATION}_count{{{selectors.api}}}[{window}]))"


def api_server_error_rate(selectors: Selectors, window: str) -> str:
    """API requests per second answered with a 5xx (0 when there were none)."""
    return f'sum(rate({HTTP_DURATION}_count{{{selectors.api}, http_response_status_code=~"5.."}}[{window}])) or vector(0)'


def api_server_errors(selectors: Selectors, window: str) -> str:
    """API requests answered with a 5xx over ``window`` (0 when there were none)."""
    return (f'sum(increase({HTTP_DURATION}_count{{{selectors.api}, http_response_status_code=~"5.."}}[{window}]))'
            " or vector(0)")


def latency_slo_good_ratio(selectors: Selectors, window: str) -> str:
    """Share of API requests answered within the SLO's latency threshold over ``window``,
    from the service's own histogram: the latency SLI the burn-rate rules judge."""
    bucket = f"{HTTP_DURATION}_bucket{{{selectors.api}, le=\"{selectors.latency_le}\"}}"
    return f"sum(increase({bucket}[{window}])) / {api_requests(selectors, window)}"


def availability_good_ratio(selectors: Selectors, window: str) -> str:
    """Share of API requests answered without a 5xx over ``window``: the availability SLI."""
    return f"1 - ({api_server_errors(selectors, window)}) / {api_requests(selectors, window)}"


def grpc_inference_calls(selectors: Selectors, window: str) -> str:
    """ModelInfer calls over gRPC over ``window``."""
    return f"sum(increase({RPC_DURATION}_count{{{selectors.grpc_inference}}}[{window}]))"


def grpc_availability_good_ratio(selectors: Selectors, window: str) -> str:
    """Share of ModelInfer calls answered without a server-side error status over ``window``."""
    errors = (f'sum(increase({RPC_DURATION}_count{{{selectors.grpc_inference}, '
              f'rpc_grpc_status_code=~"{RPC_SERVER_ERROR_CODES}"}}[{window}])) or vector(0)')
    return f"1 - ({errors}) / {grpc_inference_calls(selectors, window)}"


def grpc_latency_slo_good_ratio(selectors: Selectors, window: str) -> str:
    """Share of ModelInfer calls answered within the SLO's latency threshold over ``window``."""
    bucket = f'{RPC_DURATION}_bucket{{{selectors.grpc_inference}, le="{selectors.grpc_latency_le}"}}'
    return f"sum(increase({bucket}[{window}])) / {grpc_inference_calls(selectors, window)}"


def performance_baseline(selectors: Selectors, window: str) -> dict[str, str]:
    """What ``modelwatch baseline record`` measures over a known-good window: the
    same figures the baseline rules later compare live ones with."""
    return {
        **{f"latency_{q}": f"avg_over_time({api_latency_quantile(q, selectors)}[{window}])" for q in LATENCY_QUANTILES},
        "requests": api_requests(selectors, window),
        "requests_per_second_per_replica":
            f"{api_request_rate(selectors, window)} / avg_over_time({MODELWATCH_REPLICAS_COUNT}[{window}])",
        "cpu_seconds_per_request": f"avg_over_time({MODELWATCH_CPU_SECONDS_PER_REQUEST_RATIO_RATE5M}[{window}])",
        "memory_bytes_per_replica": f"avg_over_time({MODELWATCH_MEMORY_BYTES_PER_REPLICA_AVG}[{window}])",
        "error_ratio": f"({api_server_error_rate(selectors, window)}) / {api_request_rate(selectors, window)}",
    }


# -- autoscaling: one definition for the local autoscaler, KEDA and prometheus-adapter --


def scaling_window(config: Config) -> str:
    """Four scrapes, at least 30 s: short enough to follow a step in load (1m at the default 15 s scrapes)."""
    return f"{int(max(30, 4 * config.prometheus.scrape_interval_seconds))}s"


@dataclass(frozen=True)
class ScalingMetric:
    name: str  # as in kube_horizontalpodautoscaler_*_target_metric{metric_name}
    query: str
    target: float  # per replica
    per_replica: bool  # True: the query returns one sample per replica (label "replica"); False: a total


def _zero_while_up(selectors: Selectors) -> str:
    # A service that is up but has had no API request has no series yet: that is zero load. A
    # service that is not scraped gives nothing at all: missing, and the autoscaler holds.
    return f" or (max(up{{{selectors.service}}}) == 1) * 0"


def _requests(s: Selectors) -> ScalingMetric:
    # HTTP API requests and gRPC ModelInfer calls alike (either may be absent): gRPC traffic scales too.
    window = scaling_window(s.config)
    http, grpc = api_request_rate(s, window), f"sum(rate({RPC_DURATION}_count{{{s.grpc_inference}}}[{window}]))"
    return ScalingMetric("http_server_requests_per_second",
                         f"({http} + {grpc}) or {http} or {grpc}" + _zero_while_up(s),
                         s.config.autoscaler.target_requests_per_second, per_replica=False)


def _inflight(s: Selectors) -> ScalingMetric:
    return ScalingMetric("http_server_active_requests", f"sum(http_server_active_requests{{{s.service}}})"
                         + _zero_while_up(s), s.config.autoscaler.target_inflight, per_replica=False)


def _cpu(s: Selectors) -> ScalingMetric:
    # The local runtime's replicas: on Kubernetes the HPA's own CPU metric does this.
    local = RUNTIMES["local"]
    series = f'{local.series["cpu_seconds"]}{{{local.selector("cpu_seconds", s.config)}}}'
    return ScalingMetric(
        "cpu_cores",
        f'sum by (replica) (label_replace(rate({series}[{scaling_window(s.config)}]), "replica", "$1", '
        f'"{local.replica_label}", "(.+)"))',
        s.config.autoscaler.target_cpu_cores, per_replica=True,
    )


# autoscaler.metric -> its scaling metric
SCALING_METRICS: dict[str, Callable[[Selectors], ScalingMetric]] = {
    "requests": _requests, "inflight": _inflight, "cpu": _cpu,
}


def scaling_metric(config: Config) -> ScalingMetric:
    return SCALING_METRICS[config.autoscaler.metric](Selectors(config))


def counted_increase(selector: str, window_seconds: int) -> str:
    """How much the counters of ``selector`` grew over the last ``window_seconds``, as a count of
    events: the difference from the last sample before the window (increase() extrapolates to the
    window's edges, which over a short range adds up to a scrape's share), counted from zero for a
    series born in the window; increase() only where a counter reset (looked for over twice the
    window, so a reset just before its first sample counts too)."""
    window = f"{window_seconds}s"
    exact = f"(({selector} - {selector} offset {window}) or ({selector} + 0))"
    return (f"({exact} unless (resets({selector}[{2 * window_seconds}s]) > 0)) "
            f"or increase({selector}[{window}])")
