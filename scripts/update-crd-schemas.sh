#!/usr/bin/env bash
# Vendor the published CRDs of the custom resources k8s/ uses (ServiceMonitor,
# PrometheusRule from prometheus-operator; ScaledObject from KEDA) into
# k8s/schemas/, unchanged. No PyPI, npm or Debian package ships them: pass the
# folder holding the release files (default ../shared/crds, which records where
# each came from); k8s/schemas/README.md keeps that provenance and the tags.
# Usage: scripts/update-crd-schemas.sh [FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
source=${1:-../shared/crds}
for name in monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml keda.sh_scaledobjects.yaml; do
  [[ -f "$source/$name" ]] || { echo "update-crd-schemas: $source/$name not found" >&2; exit 1; }
  grep -q "^kind: CustomResourceDefinition" "$source/$name" || { echo "update-crd-schemas: $name is not a CRD" >&2; exit 1; }
  install -m 0644 "$source/$name" "k8s/schemas/$name"
  echo "update-crd-schemas: $name ($(sha256sum "k8s/schemas/$name" | cut -c1-12))"
done
echo "update-crd-schemas: update the tags in k8s/schemas/README.md if they changed"
