#!/usr/bin/env bash
# Refresh dashboards/schemas/: JSON Schemas of Grafana's dashboard and of the
# options and field config of each panel type the dashboards use, generated with
# ts-json-schema-generator from the TypeScript types Grafana publishes in
# @grafana/schema (themselves generated from Grafana's CUE schemas). Pinned to
# the Grafana line the dashboards target (11.6). Needs node and npm; the tests
# read the committed JSON only.
# Usage: scripts/update-grafana-schemas.sh
set -euo pipefail
cd "$(dirname "$0")/.."
GRAFANA_SCHEMA=11.6.16
GENERATOR=2.4.0
TYPESCRIPT=5.9.3
out=$PWD/dashboards/schemas

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund \
  "@grafana/schema@$GRAFANA_SCHEMA" "ts-json-schema-generator@$GENERATOR" "typescript@$TYPESCRIPT")
raw=$work/node_modules/@grafana/schema/dist/esm/raw
generate() {  # file, type, output name
  (cd "$work" && npx ts-json-schema-generator --path "$1" --type "$2" --no-type-check --expose all \
    -o "$out/$3.json")
  echo "update-grafana-schemas: $3.json ($2 of @grafana/schema $GRAFANA_SCHEMA)"
}
mkdir -p "$out"
generate "$raw/dashboard/x/dashboard_types.gen.d.ts" Dashboard dashboard
generate "$raw/dashboard/x/dashboard_types.gen.d.ts" Panel panel
generate "$raw/dashboard/x/dashboard_types.gen.d.ts" RowPanel row
# panel type -> the file its plugin's types are in
for pair in timeseries:TimeSeries stat:Stat gauge:Gauge bargauge:BarGauge table:Table heatmap:Heatmap \
            statetimeline:StateTimeline; do
  plugin=${pair%%:*} name=${pair##*:}
  file="$raw/composable/$plugin/panelcfg/x/${name}PanelCfg_types.gen.d.ts"
  generate "$file" Options "$plugin.options"
  if grep -q "^export interface FieldConfig" "$file"; then generate "$file" FieldConfig "$plugin.fieldconfig"; fi
done
printf '{"@grafana/schema": "%s", "ts-json-schema-generator": "%s", "typescript": "%s"}\n' \
  "$GRAFANA_SCHEMA" "$GENERATOR" "$TYPESCRIPT" > "$out/versions.json"
