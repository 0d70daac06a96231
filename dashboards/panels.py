"""Our own small panel helpers: the only module that knows grafanalib.

Every dashboard is written with these (``timeseries(title, queries, unit)``
and friends), so the builder library could be swapped here alone. They emit
only current panel types, give every panel a unit, thresholds and the
provisioned Prometheus datasource, and lay panels out in rows.
"""

from __future__ import annotations

import json
from typing import NamedTuple, Sequence

from grafanalib import core as g

from modelwatch.dashboards.current import current_dashboard

# The datasource the provisioning file creates; every panel and variable points at it.
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
# Grafana's v1 dashboard schema this JSON is written for (Grafana 10.4/11); set
# explicitly because grafanalib defaults to 12, which Grafana 12+ no longer migrates.
SCHEMA_VERSION = 39
PANEL_TYPES = {"timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "state-timeline", "row"}
GREEN, ORANGE, RED = "green", "orange", "red"


class Query(NamedTuple):
    expr: str
    legend: str = ""
    instant: bool = False


class Step(NamedTuple):
    """A threshold: from ``value`` upward the colour is ``color`` (the first step has no value)."""

    value: float | None
    color: str


def steps(*pairs: tuple[float, str], base: str = GREEN) -> list[Step]:
    """Thresholds: the base colour, then (value, colour) from low to high."""
    return [Step(None, base), *(Step(float(f"{v:.10g}"), c) for v, c in pairs)]  # no float noise in the JSON


def _queries(queries: Query | str | Sequence[Query | str]) -> list[Query]:
    if isinstance(queries, (str, Query)):
        queries = [queries]
    return [q if isinstance(q, Query) else Query(q) for q in queries]


def _targets(queries: list[Query], fmt: str = "time_series") -> list[g.Target]:
    return [
        g.Target(expr=q.expr, legendFormat=q.legend, refId=chr(ord("A") + i), datasource=DATASOURCE,
                 instant=q.instant, format=fmt)
        for i, q in enumerate(queries)
    ]


def _field_config(unit: str, thresholds: list[Step], minimum: float | None, maximum: float | None) -> dict:
    defaults: dict = {
        "unit": unit,
        "thresholds": {"mode": "absolute", "steps": [{"value": s.value, "color": s.color} for s in thresholds]},
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    return {"fieldConfig": {"defaults": defaults}}


class PanelSpec(NamedTuple):
    """A built panel and how many of the 24 grid columns it takes."""

    panel: g.Panel
    width: int


def timeseries(title: str, queries, unit: str, *, thresholds: list[Step] | None = None, description: str = "",
               minimum: float | None = None, stack: bool = False, width: int = 12,
               show_thresholds: bool = False) -> PanelSpec:
    thresholds = thresholds or steps()
    extra = _field_config(unit, thresholds, minimum, None)
    if show_thresholds:
        extra["fieldConfig"]["defaults"]["custom"] = {"thresholdsStyle": {"mode": "line+area"}}
    panel = g.TimeSeries(
        title=title, description=description, dataSource=DATASOURCE, targets=_targets(_queries(queries)),
        unit=unit, stacking={"mode": "normal" if stack else "none"}, tooltipMode="multi", extraJson=extra,
    )
    return PanelSpec(panel, width)


def stat(title: str, query, unit: str, *, thresholds: list[Step] | None = None, description: str = "",
         width: int = 6) -> PanelSpec:
    panel = g.Stat(
        title=title, description=description, dataSource=DATASOURCE, targets=_targets(_queries(query)),
        format=unit, reduceCalc="lastNotNull", graphMode="area", colorMode="value",
        extraJson=_field_config(unit, thresholds or steps(), None, None),
    )
    return PanelSpec(panel, width)


def gauge(title: str, query, unit: str, *, minimum: float, maximum: float, thresholds: list[Step] | None = None,
          description: str = "", width: int = 6) -> PanelSpec:
    panel = g.GaugePanel(
        title=title, description=description, dataSource=DATASOURCE, targets=_targets(_queries(query)),
        format=unit, min=minimum, max=maximum, calc="lastNotNull",
        extraJson=_field_config(unit, thresholds or steps(), minimum, maximum),
    )
    return PanelSpec(panel, width)


def bargauge(title: str, queries, unit: str, *, minimum: float = 0, maximum: float | None = None,
             thresholds: list[Step] | None = None, description: str = "", width: int = 12) -> PanelSpec:
    panel = g.BarGauge(
        title=title, description=description, dataSource=DATASOURCE, targets=_targets(_queries(queries)),
        format=unit, min=minimum, max=maximum if maximum is not None else 100, calc="lastNotNull",
        displayMode="gradient", orientation="horizontal", allValues=False,
        extraJson=_field_config(unit, thresholds or steps(), minimum, maximum),
    )
    return PanelSpec(panel, width)


def table(title: str, queries, unit: str, *, description: str = "", width: int = 24,
          hidden_columns: Sequence[str] = ("Time", "__name__")) -> PanelSpec:
    panel = g.Table(
        title=title, description=description, dataSource=DATASOURCE,
        targets=_targets([q._replace(instant=True) for q in _queries(queries)], fmt="table"), unit=unit,
        transformations=[{"id": "organize", "options": {"excludeByName": {c: True for c in hidden_columns}}}],
        extraJson=_field_config(unit, steps(), None, None),
    )
    return PanelSpec(panel, width)


def matrix(title: str, query: str, rows_from: str, columns_from: str, *, description: str = "",
           width: int = 12) -> PanelSpec:
    """A table of one instant value per (``rows_from``, ``columns_from``) label pair, e.g. a confusion matrix."""
    panel = g.Table(
        title=title, description=description, dataSource=DATASOURCE,
        targets=_targets([Query(query, instant=True)], fmt="table"), unit="short",
        transformations=[{"id": "groupingToMatrix",
                          "options": {"rowField": rows_from, "columnField": columns_from, "valueField": "Value"}}],
        extraJson=_field_config("short", steps(), None, None),
    )
    return PanelSpec(panel, width)


def heatmap(title: str, query: str, unit: str, *, description: str = "", width: int = 12) -> PanelSpec:
    """Buckets over time; ``query`` returns one series per ``le``."""
    panel = g.Heatmap(
        title=title, description=description, dataSource=DATASOURCE,
        targets=_targets([Query(query, "{{le}}")], fmt="heatmap"), dataFormat="tsbuckets",
        extraJson={
            **_field_config(unit, steps(), None, None),
            "options": {"calculate": False, "yAxis": {"unit": unit}, "cellValues": {"unit": "short"},
                        "color": {"mode": "scheme", "scheme": "Oranges"}},
        },
    )
    return PanelSpec(panel, width)


def state_timeline(title: str, queries, unit: str, *, thresholds: list[Step] | None = None,
                   description: str = "", width: int = 12) -> PanelSpec:
    panel = g.StateTimeline(
        title=title, description=description, dataSource=DATASOURCE, targets=_targets(_queries(queries)),
        extraJson=_field_config(unit, thresholds or steps(), None, None),
    )
    return PanelSpec(panel, width)


def rows(*sections: tuple[str, list[PanelSpec]], height: int = 8) -> list[g.Panel]:
    """Rows of panels, laid out left to right on Grafana's 24-column grid."""
    panels: list[g.Panel] = []
    y = 0
    for title, specs in sections:
        panels.append(g.RowPanel(title=title, gridPos=g.GridPos(h=1, w=24, x=0, y=y)))
        y += 1
        x = 0
        for spec in specs:
            if x + spec.width > 24:
                x, y = 0, y + height
            spec.panel.gridPos = g.GridPos(h=height, w=spec.width, x=x, y=y)
            panels.append(spec.panel)
            x += spec.width
        y += height
    return panels


def variable(name: str, label: str, query: str, *, multi: bool = False) -> g.Template:
    """A query variable over Prometheus label values; multi ones default to All."""
    return g.Template(
        name=name, label=label, query=query, dataSource=DATASOURCE, type="query",
        multi=multi, includeAll=multi, default="$__all" if multi else None, refresh=2, sort=1,
    )


def dashboard(title: str, uid: str, description: str, panels: list[g.Panel], variables: list[g.Template],
              tags: Sequence[str] = ("modelwatch",)) -> g.Dashboard:
    return g.Dashboard(
        title=title, uid=uid, description=description, tags=list(tags), panels=panels,
        templating=g.Templating(list=variables), schemaVersion=SCHEMA_VERSION, refresh="30s",
        time=g.Time("now-1h", "now"), timezone="browser", editable=False,
        links=[g.DashboardLink(title="modelwatch", type="dashboards", tags=["modelwatch"], asDropdown=True,
                               includeVars=True, keepTime=True)],
    ).auto_panel_ids()


def to_json(board: g.Dashboard) -> dict:
    """Plain JSON data (grafanalib objects resolved), as Grafana 11 writes it (dashboards/current.py)."""
    return current_dashboard(json.loads(json.dumps(board.to_json_data(), default=_json_data)))


def _json_data(value):
    """grafanalib's public to_json_data(), for the objects nested in a dashboard."""
    if hasattr(value, "to_json_data"):
        return value.to_json_data()
    raise TypeError(f"not JSON: {type(value).__name__}")
