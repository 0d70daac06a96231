"""Traffic, errors and latency of the model service: per route, per job (the
model API's routes), its Open Inference Protocol calls over gRPC (ModelInfer,
per job) and per model version. Everything else builds on these.

Raw counters are read once per evaluation: the request rate by route and
status code and the bucket rates by route; route, job and SLO figures are sums
of those, which keeps the group cheap with many replicas. The same holds per
model version: rows by outcome and inference buckets are read once, and the
version's figures are sums of them.

HTTP, gRPC and the per-version records are three groups: Prometheus evaluates
groups side by side, and the per-version records grow with the registered
models while the others grow with the replicas only.
"""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.rules.builder import Group, Record
from modelwatch.rules.selectors import Selectors

HTTP = queries.HTTP_DURATION
RPC = queries.RPC_DURATION
GRPC_BY_CODE = queries.JOB_CODE_RPC_SERVER_INFERENCE_CALLS_RATE5M
GRPC_BUCKETS = queries.JOB_LE_RPC_SERVER_INFERENCE_DURATION_MILLISECONDS_BUCKET_RATE5M
BY_STATUS = queries.JOB_ROUTE_STATUS_HTTP_SERVER_REQUESTS_RATE5M
BUCKETS = queries.JOB_ROUTE_LE_HTTP_SERVER_REQUEST_DURATION_SECONDS_BUCKET_RATE5M
MODEL = "job, model_name, model_version"
BY_OUTCOME = queries.JOB_MODEL_VERSION_OUTCOME_MODEL_PREDICTIONS_RATE5M
INFERENCE_BUCKETS = queries.JOB_MODEL_VERSION_LE_MODEL_INFERENCE_DURATION_SECONDS_BUCKET_RATE5M


def api_routes(s: Selectors) -> str:
    return s.api_routes


def _select(metric: str, *matchers: str) -> str:
    matchers = tuple(m for m in matchers if m)
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


def _error_ratio(errors: str, total_record: str) -> str:
    # A route that never failed has no 5xx series: count it as 0, not as absent.
    return f"""
        (
          {errors}
          or {total_record} * 0
        )
        / {total_record}
        """


def _quantiles(record: str, by: str, buckets: str) -> list[Record]:
    return [
        Record(record, f"histogram_quantile({q}, sum by ({by}, le) ({buckets}))", {"quantile": q})
        for q in queries.LATENCY_QUANTILES
    ]


def _grpc_inference(s: Selectors) -> list[Record]:
    """ModelInfer over gRPC per job: calls by status code, latency buckets, and the job's figures."""
    total = queries.JOB_RPC_SERVER_INFERENCE_CALLS_RATE5M
    errors = f'sum by (job) ({GRPC_BY_CODE}{{rpc_grpc_status_code=~"{queries.RPC_SERVER_ERROR_CODES}"}})'
    return [
        Record(GRPC_BY_CODE, f"sum by (job, rpc_grpc_status_code) (rate({RPC}_count{{{s.grpc_inference}}}[5m]))"),
        Record(GRPC_BUCKETS, f"sum by (job, le) (rate({RPC}_bucket{{{s.grpc_inference}}}[5m]))"),
        Record(total, f"sum by (job) ({GRPC_BY_CODE})"),
        Record(queries.JOB_RPC_SERVER_INFERENCE_CALL_ERRORS_RATIO_RATE5M, _error_ratio(errors, total)),
        *_quantiles(queries.JOB_RPC_SERVER_INFERENCE_DURATION_MILLISECONDS_HISTOGRAM_QUANTILE, "job", GRPC_BUCKETS),
    ]


def _http(s: Selectors) -> list[Record]:
    """Requests by route and by job (the model API's routes): rate, 5xx share, latency quantiles."""
    api = api_routes(s)
    rules = [
        Record(BY_STATUS, f"sum by (job, http_route, http_response_status_code) (rate({HTTP}_count{{{s.service}}}[5m]))"),
        Record(BUCKETS, f"sum by (job, http_route, le) (rate({HTTP}_bucket{{{s.service}}}[5m]))"),
    ]
    for level, by, selector in (("job_route", "job, http_route", ""), ("job", "job", api)):
        total = f"{level}:http_server_requests:rate5m"
        rules.append(Record(total, f"sum by ({by}) ({_select(BY_STATUS, selector)})"))
        errors = f"""sum by ({by}) ({_select(BY_STATUS, selector, 'http_response_status_code=~"5.."')})"""
        rules.append(Record(f"{level}:http_server_request_errors:ratio_rate5m", _error_ratio(errors, total)))
        rules += _quantiles(f"{level}:{HTTP}:histogram_quantile", by, _select(BUCKETS, selector))
    return rules


def _model_versions(s: Selectors) -> list[Record]:
    """Rows, the share that raised, and inference time per model version; which versions serve."""
    predictions = queries.JOB_MODEL_VERSION_MODEL_PREDICTIONS_RATE5M
    return [
        Record(BY_OUTCOME, f"sum by ({MODEL}, outcome) (rate(model_predictions_total{{{s.service}}}[5m]))"),
        Record(INFERENCE_BUCKETS, f"sum by ({MODEL}, le) (rate(model_inference_duration_seconds_bucket{{{s.service}}}[5m]))"),
        Record(predictions, f"sum by ({MODEL}) ({BY_OUTCOME})"),
        Record(
            queries.JOB_MODEL_VERSION_MODEL_PREDICTION_ERRORS_RATIO_RATE5M,
            _error_ratio(f'sum by ({MODEL}) ({BY_OUTCOME}{{outcome="error"}})', predictions),
        ),
        *_quantiles(queries.JOB_MODEL_VERSION_MODEL_INFERENCE_DURATION_SECONDS_HISTOGRAM_QUANTILE, MODEL, INFERENCE_BUCKETS),
        # Which versions serve, and in which role; replicas each report it, once is enough.
        Record(
            queries.MODELWATCH_MODEL_VERSION_INFO,
            f"max by (model_name, model_version, role) (model_info{{{s.service}}} == 1)",
        ),
    ]


def groups(s: Selectors) -> list[Group]:
    return [
        Group("modelwatch-service.rules", _http(s)),
        Group("modelwatch-service-grpc.rules", _grpc_inference(s)),
        Group("modelwatch-model-versions.rules", _model_versions(s)),
    ]
