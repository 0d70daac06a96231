"""Availability and latency SLOs with multi-window, multi-burn-rate alerts
(the SRE workbook's parameters, as Sloth and kubernetes-mixin use them).

Both SLOs count the model API's requests over HTTP and its ModelInfer calls
over gRPC together: a 5xx and a server-side gRPC status (UNKNOWN,
DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE, DATA_LOSS) are both unavailable; a
call slower than the threshold is slow whichever protocol carried it (the gRPC
histogram has the same bounds, in milliseconds).

Per SLO, the bad and total request rates are recorded over 5m (from the
service group's records, not the raw counters); every longer window is the
ratio of their sums over time, which weights each step by its traffic and
costs one series per window instead of re-reading raw counters over three
days. Windows of a day or more, and the period's remaining budget, read a
5-minute-resolution copy instead: a 3-day window is 864 samples rather than
17,280 at a 15 s interval (nine tenths of what the windows read), and it lags
by at most the copy's 5 minutes, against ticket alerts that wait an hour or
more.
"""

from __future__ import annotations

from typing import NamedTuple

from modelwatch.core import queries
from modelwatch.rules.builder import Alert, Group, Record
from modelwatch.rules.selectors import Selectors, number
from modelwatch.rules.service import BUCKETS, BY_STATUS, GRPC_BUCKETS, GRPC_BY_CODE, api_routes

HTTP_TOTAL = queries.JOB_HTTP_SERVER_REQUESTS_RATE5M
GRPC_TOTAL = queries.JOB_RPC_SERVER_INFERENCE_CALLS_RATE5M
# 0 for each job with traffic over either protocol: a protocol the job saw nothing on adds 0, not absence
ZERO = f"({HTTP_TOTAL} or {GRPC_TOTAL}) * 0"
TOTAL = f"({HTTP_TOTAL} or {ZERO}) + ({GRPC_TOTAL} or {ZERO})"
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# Windows long enough to read the 5-minute copies (only ticket alerts use them).
FROM_COPIES = ("1d", "3d")
# Each 5m rate and its 5-minute-resolution copy, written by the budget group.
COPY_OF = {
    queries.SLO_SLI_BAD_RATE5M: queries.SLO_SLI_BAD_AVG_OVER_TIME5M_RATE5M,
    queries.SLO_SLI_TOTAL_RATE5M: queries.SLO_SLI_TOTAL_AVG_OVER_TIME5M_RATE5M,
}


class BurnRate(NamedTuple):
    severity: str
    long: str
    short: str
    factor: float
    for_: str


# Share of a 30-day budget each pair catches: 2 % in 1h, 5 % in 6h (page);
# 10 % in 1d, 10 % in 3d (ticket). `for` as in kubernetes-mixin.
BURN_RATES = (
    BurnRate("critical", "1h", "5m", 14.4, "2m"),
    BurnRate("critical", "6h", "30m", 6, "15m"),
    BurnRate("warning", "1d", "2h", 3, "1h"),
    BurnRate("warning", "3d", "6h", 1, "3h"),
)


class Slo(NamedTuple):
    name: str
    alert: str
    target: float
    bad: str
    what: str


def slos(s: Selectors) -> list[Slo]:
    slo, api = s.config.slo, api_routes(s)
    return [
        Slo(
            "availability", "ModelwatchAvailabilityBudgetBurn", slo.availability_target,
            f'(sum by (job) ({BY_STATUS}{{{api}, http_response_status_code=~"5.."}}) or {ZERO})'
            f' + (sum by (job) ({GRPC_BY_CODE}{{rpc_grpc_status_code=~"{queries.RPC_SERVER_ERROR_CODES}"}}) or {ZERO})',
            "answered with a 5xx or a server-side gRPC error",
        ),
        Slo(
            "latency", "ModelwatchLatencyBudgetBurn", slo.latency_target,
            f'{TOTAL} - (sum by (job) ({BUCKETS}{{{api}, le="{s.latency_le}"}}) or {ZERO})'
            f' - (sum by (job) ({GRPC_BUCKETS}{{le="{s.grpc_latency_le}"}}) or {ZERO})',
            f"slower than {number(slo.latency_threshold_seconds)}s",
        ),
    ]


def _window_ratio(window: str, sel: str, label: dict[str, str]) -> Record:
    bad, total = (COPY_OF[rate] if window in FROM_COPIES else rate
                  for rate in (queries.SLO_SLI_BAD_RATE5M, queries.SLO_SLI_TOTAL_RATE5M))
    return Record(
        queries.slo_error_ratio(window),
        f"sum_over_time({bad}{sel}[{window}]) / sum_over_time({total}{sel}[{window}])",
        label,
    )


def groups(s: Selectors) -> list[Group]:
    period = f"{s.config.slo.period_days}d"
    records: list[Record] = []
    budgets: list[Record] = []
    alerts: list[Alert] = []
    for slo in slos(s):
        label = {"slo": slo.name}
        sel = f'{{slo="{slo.name}"}}'
        records += [
            Record(queries.SLO_SLI_BAD_RATE5M, slo.bad, label),
            Record(queries.SLO_SLI_TOTAL_RATE5M, TOTAL, label),
            Record(queries.SLO_SLI_ERROR_RATIO_RATE5M, f"{queries.SLO_SLI_BAD_RATE5M}{sel} / {queries.SLO_SLI_TOTAL_RATE5M}{sel}", label),
        ]
        records += [_window_ratio(window, sel, label) for window in WINDOWS[1:]]
        records.append(Record(queries.SLO_OBJECTIVE_RATIO, f"vector({number(slo.target)})", label))
        budgets += [
            Record(copy, f"avg_over_time({rate}{sel}[5m])", label) for rate, copy in COPY_OF.items()
        ]
        budgets.append(Record(
            queries.SLO_ERROR_BUDGET_REMAINING_RATIO,
            f"1 - (sum_over_time({queries.SLO_SLI_BAD_AVG_OVER_TIME5M_RATE5M}{sel}[{period}])"
            f" / sum_over_time({queries.SLO_SLI_TOTAL_AVG_OVER_TIME5M_RATE5M}{sel}[{period}]))"
            f" / {number(1 - slo.target)}",
            label,
        ))
        budget = number(1 - slo.target)
        for rate in BURN_RATES:
            kind = "page" if rate.severity == "critical" else "ticket"
            alerts.append(Alert(
                slo.alert,
                f"""
                {queries.slo_error_ratio(rate.long)}{sel} > ({number(rate.factor)} * {budget})
                and
                {queries.slo_error_ratio(rate.short)}{sel} > ({number(rate.factor)} * {budget})
                """,
                rate.severity,
                f"The model API is burning its {slo.name} error budget too fast.",
                f"{{{{ $value | humanizePercentage }}}} of API requests to {{{{ $labels.job }}}} were {slo.what}"
                f" over the last {rate.long} (objective {number(slo.target * 100)} %): {number(rate.factor)}x the"
                f" sustainable rate, so the {period} budget lasts {s.config.slo.period_days / rate.factor:.3g} days"
                f" at this pace ({kind}).",
                for_=rate.for_,
                labels={"slo": slo.name, "long": rate.long, "short": rate.short},
                explained_by=("service",),
            ))
    return [
        Group("modelwatch-slo.rules", records),
        # Every 5 minutes: the budget moves slowly, and the copies it reads are 5m apart.
        Group("modelwatch-slo-budget.rules", budgets, interval="5m"),
        Group("modelwatch-slo.alerts", alerts),
    ]
