"""Service overview: traffic, errors, latency against the baseline, the Open
Inference Protocol's gRPC calls, SLOs and their error budgets, and the model
versions side by side."""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.dashboards.panels import (
    ORANGE, RED, Query, dashboard, heatmap, rows, stat, steps, timeseries,
)
from modelwatch.dashboards.variables import INSTANCE, JOB, VERSION, service_variables
from modelwatch.core.config import Config
from modelwatch.rules.slo import BURN_RATES

UID = "modelwatch-service"


def build(config: Config):
    slo = config.slo
    budget = 1 - slo.availability_target
    error_steps = steps((budget, ORANGE), (budget * BURN_RATES[0].factor, RED))
    latency_steps = steps((slo.latency_threshold_seconds / 2, ORANGE), (slo.latency_threshold_seconds, RED))
    budget_steps = steps((0, RED), (0.25, ORANGE), (0.5, "green"), base=RED)
    burn_steps = steps(*((rate.factor, ORANGE if rate.severity == "warning" else RED) for rate in BURN_RATES[1::-1]))
    role = f"* on (model_name, model_version) group_left (role) {queries.MODELWATCH_MODEL_VERSION_INFO}"
    traffic = [
        stat("API requests", f"sum({queries.JOB_HTTP_SERVER_REQUESTS_RATE5M}{{{JOB}}})", "reqps"),
        stat("API errors (5xx)", f"max({queries.JOB_HTTP_SERVER_REQUEST_ERRORS_RATIO_RATE5M}{{{JOB}}})", "percentunit",
             thresholds=error_steps),
        stat("API latency p95", f'max({queries.JOB_HTTP_SERVER_REQUEST_DURATION_SECONDS_HISTOGRAM_QUANTILE}{{{JOB}, quantile="0.95"}})',
             "s", thresholds=latency_steps),
        stat("Requests in flight", f"sum(http_server_active_requests{{{JOB}, {INSTANCE}}})", "short",
             description="Requests being handled right now, over the selected instances."),
        timeseries("Request rate by route", Query(f"{queries.JOB_ROUTE_HTTP_SERVER_REQUESTS_RATE5M}{{{JOB}}}", "{{http_route}}"),
                   "reqps", stack=True),
        timeseries("Error ratio by route",
                   Query(f"{queries.JOB_ROUTE_HTTP_SERVER_REQUEST_ERRORS_RATIO_RATE5M}{{{JOB}}}", "{{http_route}}"),
                   "percentunit", thresholds=error_steps, show_thresholds=True),
    ]
    latency = [
        timeseries(
            "API latency against the baseline",
            [
                Query(f"{queries.JOB_HTTP_SERVER_REQUEST_DURATION_SECONDS_HISTOGRAM_QUANTILE}{{{JOB}}}", "p{{quantile}}"),
                Query(queries.MODEL_VERSION_MODELWATCH_BASELINE_LATENCY_SECONDS_STABLE,
                      "baseline p{{quantile}} ({{model_version}})"),
            ],
            "s", thresholds=latency_steps,
            description="Dashed lines are the performance baseline recorded for the stable version "
                        "(modelwatch baseline record); none until one is recorded.",
        ),
        timeseries("p95 latency by route",
                   Query(f'{queries.JOB_ROUTE_HTTP_SERVER_REQUEST_DURATION_SECONDS_HISTOGRAM_QUANTILE}{{{JOB}, quantile="0.95"}}',
                         "{{http_route}}"),
                   "s", thresholds=latency_steps),
        heatmap("API latency distribution",
                f'sum by (le) ({queries.JOB_ROUTE_LE_HTTP_SERVER_REQUEST_DURATION_SECONDS_BUCKET_RATE5M}{{{JOB}, '
                f'{queries.Selectors(config).api_routes}}})', "s"),
        timeseries("Slow requests (over the SLO threshold)",
                   Query(f'{queries.SLO_SLI_BAD_RATE5M}{{{JOB}, slo="latency"}}', "slower than "
                         f"{slo.latency_threshold_seconds:g}s"), "reqps"),
    ]
    threshold_ms = slo.latency_threshold_seconds * 1000
    grpc = [
        timeseries("ModelInfer calls by status",
                   Query(f"{queries.JOB_CODE_RPC_SERVER_INFERENCE_CALLS_RATE5M}{{{JOB}}}", "status {{rpc_grpc_status_code}}"),
                   "reqps", stack=True,
                   description="Open Inference Protocol calls on the gRPC port by numeric status: 0 OK, 3 invalid "
                               "argument, 16 unauthenticated (the client's), 2, 4, 13, 14, 15 (the service's, "
                               "counted against the availability SLO)."),
        timeseries("ModelInfer latency",
                   Query(f"{queries.JOB_RPC_SERVER_INFERENCE_DURATION_MILLISECONDS_HISTOGRAM_QUANTILE}{{{JOB}}}",
                         "p{{quantile}}"),
                   "ms", thresholds=steps((threshold_ms / 2, ORANGE), (threshold_ms, RED)),
                   description="Counted in the latency SLO with the HTTP requests."),
    ]
    slos = [
        stat("Availability budget left", f'{queries.SLO_ERROR_BUDGET_REMAINING_RATIO}{{{JOB}, slo="availability"}}',
             "percentunit", thresholds=budget_steps,
             description=f"Share of the {slo.period_days}-day error budget of the {slo.availability_target:.3%} "
                         "availability objective still unspent."),
        stat("Latency budget left", f'{queries.SLO_ERROR_BUDGET_REMAINING_RATIO}{{{JOB}, slo="latency"}}', "percentunit",
             thresholds=budget_steps,
             description=f"{slo.latency_target:.2%} of requests within {slo.latency_threshold_seconds:g}s, "
                         f"over {slo.period_days} days."),
        stat("Availability, last hour", f'1 - {queries.SLO_SLI_ERROR_RATIO_RATE1H}{{{JOB}, slo="availability"}}',
             "percentunit", thresholds=steps((slo.availability_target, "green"), base=RED)),
        stat("Within latency objective, last hour", f'1 - {queries.SLO_SLI_ERROR_RATIO_RATE1H}{{{JOB}, slo="latency"}}',
             "percentunit", thresholds=steps((slo.latency_target, "green"), base=RED)),
        timeseries(
            "Error budget burn rate",
            [Query(f"{queries.slo_error_ratio(window)}{{{JOB}}} / on (slo) group_left () (1 - {queries.SLO_OBJECTIVE_RATIO})",
                   f"{{{{slo}}}} {window}") for window in ("5m", "1h", "6h")],
            "suffix:x", thresholds=burn_steps, show_thresholds=True, width=24,
            description="1x spends the budget exactly over the period; the page alerts fire at 14.4x (1h) "
                        "and 6x (6h), the tickets at 3x (1d) and 1x (3d).",
        ),
    ]
    versions = [
        timeseries("Predictions by version",
                   Query(f"{queries.JOB_MODEL_VERSION_MODEL_PREDICTIONS_RATE5M}{{{JOB}, {VERSION}}} {role}",
                         "{{model_version}} ({{role}})"), "suffix: rows/s", stack=True),
        timeseries("Inference p95 by version",
                   Query(f'{queries.JOB_MODEL_VERSION_MODEL_INFERENCE_DURATION_SECONDS_HISTOGRAM_QUANTILE}{{{JOB}, {VERSION}, '
                         f'quantile="0.95"}} {role}', "{{model_version}} ({{role}})"), "s",
                   description="Canary and stable side by side; the canary alert fires at "
                               f"{config.alerts.canary_factor:g}x the stable version."),
        timeseries("Prediction errors by version",
                   Query(f"{queries.JOB_MODEL_VERSION_MODEL_PREDICTION_ERRORS_RATIO_RATE5M}{{{JOB}, {VERSION}}} {role}",
                         "{{model_version}} ({{role}})"), "percentunit", thresholds=error_steps),
        timeseries("API clients", Query(f"sum by (client) (rate(model_client_requests_total{{{JOB}}}[$__rate_interval]))",
                                        "{{client}}"), "reqps", stack=True),
    ]
    panels = rows(("Traffic", traffic), ("Latency", latency), ("gRPC (Open Inference Protocol)", grpc), ("SLOs", slos),
                  ("Model versions", versions))
    return dashboard("modelwatch / Service overview", UID,
                     "Traffic, errors and latency of the model API, its SLOs, and the versions serving.",
                     panels, service_variables())
