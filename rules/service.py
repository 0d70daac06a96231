"""Traffic, errors and latency of the model service: per route, per job (the
model API's routes), its Open Inference Protocol calls over gRPC (ModelInfer,
per job) and per model version. Everything else builds on these.

Raw counters are read once per evaluation: the request rate by route and
status code and the bucket rates by route; route, job and SLO figures are sums
of those, which keeps the group cheap with many replicas.
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


def groups(s: Selectors) -> list[Group]:
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

    rules += _grpc_inference(s)

    predictions = queries.JOB_MODEL_VERSION_MODEL_PREDICTIONS_RATE5M
    rules.append(Record(predictions, f"sum by ({MODEL}) (rate(model_predictions_total{{{s.service}}}[5m]))"))
    errors = f'sum by ({MODEL}) (rate(model_predictions_total{{{s.service}, outcome="error"}}[5m]))'
    rules.append(Record(queries.JOB_MODEL_VERSION_MODEL_PREDICTION_ERRORS_RATIO_RATE5M, _error_ratio(errors, predictions)))
    rules += _quantiles(
        queries.JOB_MODEL_VERSION_MODEL_INFERENCE_DURATION_SECONDS_HISTOGRAM_QUANTILE, MODEL,
        f"rate(model_inference_duration_seconds_bucket{{{s.service}}}[5m])",
    )
    # Which versions serve, and in which role; replicas each report it, once is enough.
    rules.append(Record(
        queries.MODELWATCH_MODEL_VERSION_INFO,
        f"max by (model_name, model_version, role) (model_info{{{s.service}}} == 1)",
    ))
    return [Group("modelwatch-service.rules", rules)]
