"""``modelwatch report``: a self-contained HTML page with PNG charts from
Prometheus for a time range — request rate, latency against the baseline,
replicas against load, CPU and memory per replica, drift per model (table and
chart, ``reports/drift.py``), live quality from labels against the reference
(``reports/quality.py``) and the alerts that fired — for a person to look at
without Grafana."""

from __future__ import annotations

import base64
import html
import io
import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: PNGs only
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from modelwatch.rules.platform import WATCHDOG
from modelwatch.core import queries  # noqa: E402
from modelwatch.core.config import Config  # noqa: E402
from modelwatch.core.prometheus_api import PrometheusApi, Series  # noqa: E402
from modelwatch.reports import drift, quality  # noqa: E402


@dataclass(frozen=True)
class Line:
    label: str  # a fixed label, or a Python format string over the series' labels ("{replica}")
    expr: str
    scale: float = 1.0
    style: str = "-"


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    lines: tuple[Line, ...]
    right: tuple[Line, ...] = ()  # a second axis (replicas against load)
    right_unit: str = ""


def charts(config: Config) -> list[Chart]:
    selectors = queries.Selectors(config)
    hpa = selectors.autoscaler_hpa
    requests = queries.api_request_rate(selectors, "1m")
    return [
        Chart("Request rate", "requests/s", (
            Line("API requests", requests),
            Line("answered with a 5xx", queries.api_server_error_rate(selectors, "1m")),
        )),
        Chart(f"Latency against the baseline (SLO: {config.slo.latency_target:.0%} under "
              f"{config.slo.latency_threshold_seconds * 1000:g} ms)", "ms", (
            *(Line(name, queries.api_latency_quantile(q, selectors), 1000)
              for name, q in (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99"))),
            Line("baseline p95 ({model_version})",
                 f'{queries.baseline_stable("latency_seconds")}{{quantile="0.95"}}',
                 1000, "--"),
        )),
        Chart("Replicas against load", "replicas", (
            Line("current replicas", f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}"),
            Line("desired replicas", f"kube_horizontalpodautoscaler_status_desired_replicas{{{hpa}}}", style="--"),
        ), right=(Line("API requests/s", requests, style=":"),), right_unit="requests/s"),
        Chart("CPU per replica", "cores", (Line("{replica}", queries.MODELWATCH_REPLICA_CPU_SECONDS_RATE5M),)),
        Chart("Memory per replica", "MiB", (Line("{replica}", queries.MODELWATCH_REPLICA_MEMORY_BYTES_SUM, 1 / 2**20),)),
    ]


def _label(line: Line, series: Series) -> str:
    try:
        return line.label.format(**series.labels)
    except KeyError:
        return line.label


def _plot(ax, line: Line, series_list: list[Series], colours) -> int:
    drawn = 0
    for series in series_list:
        points = [(t, v) for t, v in series.points if v == v]  # NaN: no data at that step
        if not points:
            continue
        times = [mdates.datestr2num(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))) for t, _ in points]
        ax.plot(times, [v * line.scale for _, v in points], line.style, label=_label(line, series), linewidth=1.5,
                color=f"C{next(colours) % 10}")
        drawn += 1
    return drawn


def render_chart(chart: Chart, data: dict[str, list[Series]]) -> bytes:
    figure, ax = plt.subplots(figsize=(10, 3.2), dpi=100)
    colours = itertools.count()  # one colour cycle over both axes
    drawn = sum(_plot(ax, line, data[line.expr], colours) for line in chart.lines)
    ax.set_title(chart.title, loc="left", fontsize=12)
    ax.set_ylabel(chart.unit)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    handles, labels = ax.get_legend_handles_labels()
    if chart.right:
        right = ax.twinx()
        drawn += sum(_plot(right, line, data[line.expr], colours) for line in chart.right)
        right.set_ylabel(chart.right_unit)
        more_handles, more_labels = right.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    if handles:
        ax.legend(handles, labels, loc="upper left", fontsize=8, ncol=3)
    if not drawn:
        ax.text(0.5, 0.5, "no data in this range", transform=ax.transAxes, ha="center", color="grey")
    ax.set_ylim(bottom=0)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def fired_alerts(prometheus: PrometheusApi, start: float, end: float, step: float) -> list[dict]:
    """Each alert that fired in the range, with when it first and last fired."""
    rows = []
    # Not the watchdog: it always fires, so that its silence can be noticed elsewhere.
    for series in prometheus.query_range(f'ALERTS{{alertstate="firing", alertname!="{WATCHDOG}"}}', start, end, step):
        labels = {k: v for k, v in series.labels.items() if k not in ("__name__", "alertstate")}
        times = [t for t, v in series.points if v == 1]
        if times:
            rows.append({"alertname": labels.pop("alertname"), "severity": labels.pop("severity", ""),
                         "labels": labels, "first": min(times), "last": max(times)})
    return sorted(rows, key=lambda r: (r["first"], r["alertname"]))


@dataclass(frozen=True)
class Report:
    start: float
    end: float
    summary: dict[str, str]
    images: list[tuple[str, bytes]]
    alerts: list[dict]
    drift: list[drift.ModelDrift]
    drift_images: list[tuple[str, bytes]]
    quality: list[quality.ModelQuality]
    quality_images: list[tuple[str, bytes]]


def drift_charts(config: Config, models: list[str]) -> list[Chart]:
    """Per model: its features' PSI over time against the thresholds."""
    alerts = config.alerts
    thresholds = (Line(f"warning {alerts.drift_psi_warning:g}", f"vector({alerts.drift_psi_warning})", style="--"),
                  Line(f"critical {alerts.drift_psi_critical:g}", f"vector({alerts.drift_psi_critical})", style="--"))
    return [Chart(f"Drift of {model}: PSI of the {drift.WORST_FEATURES_CHARTED} most drifted features", "PSI",
                  (Line("{feature} {model_version}", drift.psi_chart_expr(model)), *thresholds))
            for model in models]


def quality_charts(models: list[quality.ModelQuality]) -> list[Chart]:
    """Per model with labels: the 10-minute quality the alerts read, against the reference."""
    tasks = {m.model: m.task for m in models}
    return [Chart(f"Live {'RMSE' if task == 'regression' else 'accuracy'} of {model} against the reference",
                  "RMSE" if task == "regression" else "accuracy",
                  tuple(Line(label, expr, style=style) for label, expr, style in quality.chart_lines(model, task)))
            for model, task in sorted(tasks.items())]


def _fetch(prometheus: PrometheusApi, chart_list: list[Chart], start: float, end: float,
           step: float) -> dict[str, list[Series]]:
    data: dict[str, list[Series]] = {}
    for chart in chart_list:
        for line in (*chart.lines, *chart.right):
            if line.expr not in data:
                data[line.expr] = prometheus.query_range(line.expr, start, end, step)
    return data


def build(config: Config, prometheus: PrometheusApi, start: float, end: float) -> Report:
    step = max(config.prometheus.scrape_interval_seconds, (end - start) / 300)
    chart_list = charts(config)
    data = _fetch(prometheus, chart_list, start, end, step)
    rate = data[chart_list[0].lines[0].expr]
    p95 = data[chart_list[1].lines[1].expr]
    replicas = data[chart_list[2].lines[0].expr]
    alerts = fired_alerts(prometheus, start, end, step)
    summary = {
        "peak API requests/s": _extreme(rate, max, "{:.1f}"),
        "highest p95": _extreme(p95, max, "{:.1f} ms", 1000),
        "replicas (min–max)": f"{_extreme(replicas, min, '{:.0f}')}–{_extreme(replicas, max, '{:.0f}')}",
        "alerts fired": str(len(alerts)),
    }
    models = drift.model_drift(config, prometheus, start, end)
    over = [f"{m.model} {m.version}" for m in models if any(w.level for w in m.worst.values())]
    summary["drifting model versions"] = ", ".join(over) or "none"
    drifting = drift_charts(config, sorted({m.model for m in models}))
    drift_data = _fetch(prometheus, drifting, start, end, step)
    labelled = quality.model_quality(config, prometheus, start, end)
    worse = [f"{m.model} {m.version} ({', '.join(m.worse(config.alerts.for_model(m.model)))})"
             for m in labelled if m.worse(config.alerts.for_model(m.model))]
    summary["quality below the reference"] = ", ".join(worse) or ("none" if labelled else "no labels in this range")
    scored = quality_charts(labelled)
    quality_data = _fetch(prometheus, scored, start, end, step)
    return Report(start, end, summary, [(c.title, render_chart(c, data)) for c in chart_list], alerts,
                  models, [(c.title, render_chart(c, drift_data)) for c in drifting],
                  labelled, [(c.title, render_chart(c, quality_data)) for c in scored])


def _extreme(series_list: list[Series], pick, fmt: str, scale: float = 1.0) -> str:
    values = [v for s in series_list for _, v in s.points if v == v]
    return fmt.format(pick(values) * scale) if values else "-"


def _when(stamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp))


def _figures_html(images: list[tuple[str, bytes]]) -> str:
    return "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"></figure>'
        for name, png in images
    )


def drift_html(models: list[drift.ModelDrift], config: Config) -> str:
    """One row per model version that predicted in the range; a figure over its threshold is marked."""
    if not models:
        return "<p>No model predicted in this range.</p>"
    titles = [f.title for f in drift.figures(config.alerts)]
    head = "".join(f"<th>{html.escape(t)}</th>" for t in ("model", "version", "rows", *titles))
    body = "".join(
        f"<tr><td>{html.escape(m.model)}</td><td>{html.escape(m.version)}</td><td>{m.rows:.0f}</td>" + "".join(
            f"<td class='{m.worst[t].level}'>{html.escape(m.worst[t].text)}</td>" if t in m.worst else "<td>-</td>"
            for t in titles) + "</tr>"
        for m in models)
    return (f"<table class='drift'><tr>{head}</tr>{body}</table>"
            "<p><small>Each figure at its highest in the range, with the feature it belongs to; "
            "<span class='warning'>over the warning threshold</span>, "
            "<span class='critical'>over the critical one</span>; - : no figure (too few rows, or not this kind "
            "of model).</small></p>")


def _shown(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if metric in ("accuracy", "f1_macro") else f"{value:.4g}"


def quality_html(models: list[quality.ModelQuality], config: Config) -> str:
    """One row per model version that got labels in the range: live against reference, marked where worse."""
    if not models:
        return "<p>No labels arrived in this range (POST /api/v1/models/&lt;name&gt;/feedback).</p>"
    names = {"accuracy": "accuracy", "f1_macro": "macro-F1", "mae": "MAE", "rmse": "RMSE"}
    head = "".join(f"<th>{t}</th>" for t in ("model", "version", "labels", "refused", "labelled share",
                                              "median label delay", *(f"{n} live / reference" for n in names.values())))
    rows = []
    for m in models:
        worse = m.worse(config.alerts.for_model(m.model))
        cells = [html.escape(m.model), html.escape(m.version), f"{m.labels:.0f}", f"{m.refused:.0f}",
                 _shown("accuracy", m.coverage), "-" if m.delay_seconds is None else f"{m.delay_seconds:.3g} s"]
        row = "".join(f"<td>{c}</td>" for c in cells) + "".join(
            f"<td class='{'warning' if metric in worse else ''}'>{_shown(metric, m.live.get(metric))} / "
            f"{_shown(metric, m.reference.get(metric))}</td>" if metric in m.live else "<td>-</td>"
            for metric in names)
        rows.append(f"<tr>{row}</tr>")
    alerts = config.alerts
    return (f"<table class='drift'><tr>{head}</tr>{''.join(rows)}</table>"
            "<p><small>Over the whole range, from the labels accepted in it. <span class='warning'>Worse than the "
            f"reference</span> as the alerts judge it: {alerts.quality_margin:g} below for accuracy and macro-F1, "
            f"{alerts.quality_error_factor:g}x for RMSE, once {alerts.quality_min_labels} labels arrived.</small></p>")


def to_html(report: Report, config: Config, title: str = "modelwatch report") -> str:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in report.summary.items())
    images = _figures_html(report.images)
    if report.alerts:
        alert_rows = "".join(
            f"<tr><td>{html.escape(a['alertname'])}</td><td class='{html.escape(a['severity'])}'>"
            f"{html.escape(a['severity'])}</td><td>{_when(a['first'])}</td><td>{_when(a['last'])}</td>"
            f"<td>{html.escape(', '.join(f'{k}={v}' for k, v in sorted(a['labels'].items())))}</td></tr>"
            for a in report.alerts
        )
        alerts = ("<table><tr><th>alert</th><th>severity</th><th>first fired</th><th>last fired</th>"
                  f"<th>labels</th></tr>{alert_rows}</table>")
    else:
        alerts = "<p>No alert fired in this range.</p>"
    period = f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(report.start))} – {_when(report.end)}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1040px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }} th, td {{ border: 1px solid #ccc; padding: .3em .7em; text-align: left; }}
table.drift {{ font-size: 85%; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; }} .critical {{ color: #b00; }} .warning {{ color: #b60; }}
</style></head>
<body data-images="pending">
<h1>{html.escape(title)}</h1>
<p>{period}</p>
<table>{rows}</table>
{images}
<h2>Drift per model</h2>
{drift_html(report.drift, config)}
{_figures_html(report.drift_images)}
<h2>Quality from labels</h2>
{quality_html(report.quality, config)}
{_figures_html(report.quality_images)}
<h2>Alerts that fired</h2>
{alerts}
<p><small>Generated by modelwatch report from Prometheus.</small></p>
<script>
window.addEventListener("load", () => {{
  const ok = [...document.images].every(i => i.complete && i.naturalWidth > 0);
  document.body.dataset.images = ok ? "loaded" : "broken";
}});
</script>
</body></html>
"""


def write(config: Config, out: Path, start: float, end: float, title: str = "modelwatch report") -> Report:
    report = build(config, PrometheusApi.from_config(config), start, end)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_html(report, config, title))
    return report
