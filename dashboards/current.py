"""grafanalib's JSON made into what Grafana 11 itself writes.

grafanalib still emits keys of Grafana's older schemas (rows, spans, the
Graph-era heatmap and table keys, a bar gauge's ``fieldOptions`` with threshold
values like ``"null"``) and ``null`` where Grafana writes nothing. Grafana
migrates such a dashboard on load, so it renders differently from the JSON in
the repository. Here every legacy key is dropped (each with the reason Grafana
no longer reads it), ``null`` optional values are left out, and each panel's
``options`` and ``fieldConfig.defaults.custom`` are completed with the defaults
Grafana writes, so the result validates against the JSON Schemas generated from
``@grafana/schema`` (dashboards/schemas, tests/dashboards/test_grafana_schema.py).
"""

from __future__ import annotations

import copy

# Dashboard keys Grafana 11 no longer reads.
LEGACY_DASHBOARD = {
    "__inputs": "only in exports for import; a provisioned dashboard has no inputs",
    "rows": "pre-5.0 rows; panels with gridPos replaced them",
    "hideControls": "removed with the pre-5.0 row layout",
    "sharedCrosshair": "replaced by graphTooltip",
    "style": "the theme is the user's since Grafana 7",
}
# Panel keys Grafana 11 no longer reads, on every panel type.
LEGACY_PANEL = {
    "span": "pre-5.0 width; gridPos replaced it",
    "height": "pre-5.0 height; gridPos replaced it",
    "minSpan": "pre-5.0 repeat width; maxPerRow replaced it",
    "editable": "per-dashboard only",
    "error": "runtime state, never saved",
}
# Per panel type: the keys of the type's Angular-era plugin.
LEGACY_BY_TYPE = {
    "heatmap": {"cards", "color", "dataFormat", "heatmap", "hideZeroBuckets", "highlightCards", "legend",
                "reverseYBuckets", "tooltip", "xAxis", "xBucketNumber", "xBucketSize", "yAxis", "yBucketBound",
                "yBucketNumber", "yBucketSize"},  # the old heatmap's; the current one reads options
    "table": {"color", "columns", "fontSize", "mappings"},  # the old table's; now fieldConfig
}
ROW_KEYS = {"collapsed", "datasource", "gridPos", "id", "panels", "repeat", "title", "type"}
LEGACY_VARIABLE = {"auto", "auto_count", "auto_min",  # an interval variable's, not a query variable's
                   "tagValuesQuery", "tagsQuery", "useTags"}  # the tags feature, removed in Grafana 8

# Query keys grafanalib writes that Grafana's Prometheus data source no longer reads.
LEGACY_TARGET = {"intervalFactor", "step", "metric", "query", "target"}  # Grafana 7's resolution, Graphite's

LEGEND = {"showLegend": True, "displayMode": "list", "placement": "bottom", "calcs": []}
TOOLTIP = {"mode": "multi", "sort": "none"}
REDUCE = {"values": False, "calcs": ["lastNotNull"], "fields": ""}
# What Grafana writes for each panel type's options, unless the panel sets them.
OPTION_DEFAULTS = {
    "timeseries": {"legend": LEGEND, "tooltip": TOOLTIP},
    "state-timeline": {"legend": LEGEND, "tooltip": TOOLTIP, "rowHeight": 0.9, "showValue": "auto",
                       "mergeValues": True, "alignValue": "left"},
    "stat": {"reduceOptions": REDUCE, "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
             "orientation": "auto", "textMode": "auto", "wideLayout": True, "showPercentChange": False,
             "percentChangeColorMode": "standard"},
    "gauge": {"reduceOptions": REDUCE, "orientation": "auto", "showThresholdLabels": False,
              "showThresholdMarkers": True, "sizing": "auto", "minVizWidth": 75, "minVizHeight": 75},
    "bargauge": {"reduceOptions": REDUCE, "displayMode": "gradient", "orientation": "horizontal",
                 "legend": {**LEGEND, "showLegend": False}, "showUnfilled": True, "valueMode": "color",
                 "namePlacement": "auto", "sizing": "auto", "minVizWidth": 8, "minVizHeight": 16,
                 "maxVizHeight": 300},
    "heatmap": {"calculate": False, "color": {"mode": "scheme", "scheme": "Oranges", "fill": "dark-orange",
                                              "exponent": 0.5, "reverse": False, "steps": 64},
                "exemplars": {"color": "rgba(255,0,255,0.7)"}, "legend": {"show": True}, "showValue": "auto",
                "tooltip": {"mode": "single", "yHistogram": False, "showColorScale": False},
                "yAxis": {"axisPlacement": "left"}, "cellGap": 1, "rowsFrame": {"layout": "auto"}},
    "table": {"showHeader": True, "frameIndex": 0, "cellHeight": "sm"},
}
CUSTOM_DEFAULTS = {
    "table": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
}
# The keys grafanalib puts in a panel's options that the type's current options do not have.
LEGACY_OPTIONS = {
    "bargauge": {"fieldOptions", "showThresholdLabels", "showThresholdMarkers"},  # Grafana 6's bar gauge
    "stat": {"fieldOptions"},
    "gauge": {"fieldOptions"},
}


def _merged(defaults: dict, given: dict) -> dict:
    """``defaults`` under ``given``, key by key into nested objects."""
    out = copy.deepcopy(defaults)
    for key, value in given.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _without_nulls(value):
    if isinstance(value, dict):  # a threshold step keeps its null: the base step's value is null in Grafana's schema
        return {k: _without_nulls(v) for k, v in value.items() if v is not None or (k == "value" and "color" in value)}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def current_panel(panel: dict) -> dict:
    kind = panel["type"]
    if kind == "row":
        return {k: v for k, v in panel.items() if k in ROW_KEYS and v is not None}
    dropped = set(LEGACY_PANEL) | LEGACY_BY_TYPE.get(kind, set())
    out = {k: _without_nulls(v) for k, v in panel.items() if k not in dropped and v is not None}
    options = {k: v for k, v in out.get("options", {}).items() if k not in LEGACY_OPTIONS.get(kind, set())}
    out["options"] = _merged(OPTION_DEFAULTS.get(kind, {}), options)
    if "targets" in out:
        out["targets"] = [{k: v for k, v in target.items() if k not in LEGACY_TARGET} for target in out["targets"]]
    field_config = out.setdefault("fieldConfig", {})
    field_config.setdefault("overrides", [])
    defaults = field_config.setdefault("defaults", {})
    custom = _without_nulls(defaults.get("custom", {}))
    if kind in CUSTOM_DEFAULTS or custom:
        defaults["custom"] = _merged(CUSTOM_DEFAULTS.get(kind, {}), custom)
    return out


def current_variable(variable: dict) -> dict:
    out = {k: _without_nulls(v) for k, v in variable.items() if k not in LEGACY_VARIABLE and v is not None}
    current = {k: v for k, v in out.get("current", {}).items() if k != "tags"}  # tags: removed in Grafana 8
    if "text" in current and "value" in current:
        out["current"] = current
    else:
        out.pop("current", None)  # Grafana picks the default (All, or the first value) on load
    return out


def current_dashboard(board: dict) -> dict:
    out = {k: v for k, v in board.items() if k not in LEGACY_DASHBOARD and v is not None}
    out["panels"] = [current_panel(p) for p in board.get("panels", [])]
    templating = out.get("templating", {})
    templating["list"] = [current_variable(v) for v in templating.get("list", [])]
    # time_options: the picker's fixed list, removed in Grafana 8 (the ranges are built in).
    out["timepicker"] = {k: v for k, v in _without_nulls(out.get("timepicker", {})).items() if k != "time_options"}
    return out
