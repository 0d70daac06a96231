"""Traffic, errors and latency of the model service: per route, per job (the
model API's routes) and per model version. Everything else builds on these."""

from __future__ import annotations

from rules.builder import Group, Record
from rules.selectors import Selectors

QUANTILES = ("0.5", "0.95", "0.99")
HTTP = "http_server_request_duration_seconds"


def _error_ratio(errors: str, total_record: str) -> str:
    # A route that never failed has no 5xx series: count it as 0, not as absent.
    return f"""
        (
          {errors}
          or {total_record} * 0
        )
        / {total_record}
        """


def groups(s: Selectors) -> list[Group]:
    rules: list[Record] = []
    for level, by, selector in (
        ("job_route", "job, http_route", s.service),
        ("job", "job", s.api),
    ):
        total = f"{level}:http_server_requests:rate5m"
        rules.append(Record(total, f"sum by ({by}) (rate({HTTP}_count{{{selector}}}[5m]))"))
        errors = f'sum by ({by}) (rate({HTTP}_count{{{selector}, http_response_status_code=~"5.."}}[5m]))'
        rules.append(Record(f"{level}:http_server_request_errors:ratio_rate5m", _error_ratio(errors, total)))
        for q in QUANTILES:
            rules.append(Record(
                f"{level}:{HTTP}:histogram_quantile",
                f"histogram_quantile({q}, sum by ({by}, le) (rate({HTTP}_bucket{{{selector}}}[5m])))",
                {"quantile": q},
            ))

    by_version = "job, model_name, model_version"
    predictions = "job_model_version:model_predictions:rate5m"
    rules.append(Record(predictions, f"sum by ({by_version}) (rate(model_predictions_total{{{s.service}}}[5m]))"))
    errors = f'sum by ({by_version}) (rate(model_predictions_total{{{s.service}, outcome="error"}}[5m]))'
    rules.append(Record("job_model_version:model_prediction_errors:ratio_rate5m", _error_ratio(errors, predictions)))
    for q in QUANTILES:
        rules.append(Record(
            "job_model_version:model_inference_duration_seconds:histogram_quantile",
            f"histogram_quantile({q}, sum by ({by_version}, le) "
            f"(rate(model_inference_duration_seconds_bucket{{{s.service}}}[5m])))",
            {"quantile": q},
        ))
    # Which versions serve, and in which role; replicas each report it, once is enough.
    rules.append(Record(
        "modelwatch:model_version:info",
        f"max by (model_name, model_version, role) (model_info{{{s.service}}} == 1)",
    ))
    return [Group("modelwatch-service.rules", rules)]
