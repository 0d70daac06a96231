#!/usr/bin/env bash
# Refresh k8s/schemas/: JSON Schemas of the custom resources the manifests use
# (ServiceMonitor, PrometheusRule, ScaledObject), taken from cloudcoil's models,
# which are generated from the Prometheus Operator's and KEDA's published CRDs.
# No CRD YAML is reachable from PyPI, Debian or npm here; these models are.
# Runs in a throwaway venv so the project does not depend on cloudcoil.
# Usage: scripts/update-crd-schemas.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PROMETHEUS_OPERATOR=0.80.1.0
KEDA=2.16.1.0

venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "cloudcoil-models-prometheus-operator==$PROMETHEUS_OPERATOR" "cloudcoil-models-keda==$KEDA" 2>&1 | grep -v "^WARNING: Location" || true

"$venv/bin/python" - "$PROMETHEUS_OPERATOR" "$KEDA" <<'EOF'
import json
import sys
from pathlib import Path

from cloudcoil.models.keda import v1alpha1 as keda
from cloudcoil.models.prometheus_operator import v1 as monitoring

operator_version, keda_version = sys.argv[1:]
models = {
    "monitoring.coreos.com_v1_servicemonitor": (monitoring.ServiceMonitor, f"cloudcoil-models-prometheus-operator {operator_version}"),
    "monitoring.coreos.com_v1_prometheusrule": (monitoring.PrometheusRule, f"cloudcoil-models-prometheus-operator {operator_version}"),
    "keda.sh_v1alpha1_scaledobject": (keda.ScaledObject, f"cloudcoil-models-keda {keda_version}"),
}
out = Path("k8s/schemas")
out.mkdir(exist_ok=True)
for name, (model, source) in models.items():
    schema = {"$comment": f"from {source} (scripts/update-crd-schemas.sh)"}
    schema.update(model.model_json_schema(by_alias=True))
    (out / f"{name}.json").write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    print(f"update-crd-schemas: {name}.json from {source}")
EOF
