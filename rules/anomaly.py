"""Request rate against its own history (GitLab's z-score approach): unusual
highs and lows, and traffic that stopped while the service is up.

The expected rate is the seasonal prediction (the same hour 1, 2 and 3 weeks
ago plus the weekly trend, median of those that exist) once a week of data
exists, and the last day's average before that. The spread is the last day's
standard deviation, floored at 10 % of the usual rate so that a very steady
service does not call a small wobble many sigmas.

The day and week windows read a 5-minute-resolution copy of the rate (the
5-minute rate, sampled every 5 minutes: back to back, the windows it covers
tile the time), as the SLO's long windows read theirs: a week is 2,016
samples rather than 40,320 at a 15 s interval (the week's average alone was
two thirds of the group's cost), and the copy lags by at most its 5 minutes,
against alerts that wait 10. The copy is only ever read over ranges, so its
5-minute spacing never meets the staleness limit of an instant read.
"""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.rules.builder import Alert, Group, Record
from modelwatch.rules.selectors import Selectors, number

RATE = queries.JOB_HTTP_SERVER_REQUESTS_RATE5M
COPY = queries.JOB_HTTP_SERVER_REQUESTS_RATE5M_EVERY5M
AVG_1D = queries.JOB_HTTP_SERVER_REQUESTS_AVG_OVER_TIME_1D_RATE5M
STDDEV_1D = queries.JOB_HTTP_SERVER_REQUESTS_STDDEV_OVER_TIME_1D_RATE5M
AVG_1W = queries.JOB_HTTP_SERVER_REQUESTS_AVG_OVER_TIME_1W_RATE5M
PREDICTION = queries.JOB_HTTP_SERVER_REQUESTS_PREDICTION_RATE5M
ZSCORE = queries.JOB_HTTP_SERVER_REQUESTS_ZSCORE_RATE5M


def _week_ago(weeks: int) -> str:
    offset = f"{168 * weeks - 2}h"  # a 4h window centred on the same time `weeks` ago
    trend = f"({AVG_1W} - {AVG_1W} offset {weeks}w or {AVG_1W} * 0)"
    return f'label_replace(avg_over_time({COPY}[4h] offset {offset}) + {trend}, "offset", "{weeks}w", "", "")'


def groups(s: Selectors) -> list[Group]:
    cfg = s.config.alerts
    minimum = number(cfg.traffic_drop_min_requests_per_second)
    seasonal = "\n  or ".join(_week_ago(weeks) for weeks in (1, 2, 3))
    records = [
        Record(AVG_1D, f"avg_over_time({COPY}[1d])"),
        Record(STDDEV_1D, f"stddev_over_time({COPY}[1d])"),
        Record(AVG_1W, f"avg_over_time({COPY}[1w])"),
        Record(PREDICTION, f"""
            quantile without (offset) (0.5,
              {seasonal}
            )
            or {AVG_1D}
            """),
        Record(ZSCORE, f"""
            ({RATE} - {PREDICTION})
            / clamp_min(
                {STDDEV_1D} >= 0.1 * {AVG_1D}
                or 0.1 * {AVG_1D},
                {minimum}
              )
            """),
    ]
    alerts = [
        Alert(
            "ModelwatchRequestRateAnomalous",
            f"""
            abs({ZSCORE}) > {number(cfg.request_rate_zscore)}
            and on (job) {RATE} offset 6h
            """,
            "warning",
            "The model API's request rate is far from its usual level.",
            f"{{{{ $labels.job }}}} is {{{{ $value | printf \"%.1f\" }}}} standard deviations from its expected request"
            f" rate ({PREDICTION}).",
            for_="10m",
            explained_by=("service",),
        ),
        Alert(
            "ModelwatchTrafficStopped",
            f"""
            (sum by (job) (up{{{s.service}}}) > 0)
            unless on (job) ({RATE} > 0)
            and on (job) ({AVG_1D} > {minimum})
            """,
            "warning",
            "The model API gets no requests although the service is up.",
            f"{{{{ $labels.job }}}} answered no API request in the last 5 minutes; over the last day it averaged more"
            f" than {minimum} requests/s. Look upstream: clients, load balancer, DNS.",
            for_="10m",
            explained_by=("service",),
        ),
    ]
    return [
        # Every 5 minutes: the copy the windows read.
        Group("modelwatch-anomaly-history.rules", [Record(COPY, RATE)], interval="5m"),
        Group("modelwatch-anomaly.rules", records),
        Group("modelwatch-anomaly.alerts", alerts),
    ]
