#!/usr/bin/env bash
# Pin every dependency of the two images, with the sha256 of each file PyPI serves,
# into requirements/service.lock and requirements/exporter.lock. The image builds
# install from these with --require-hashes; run this after changing pyproject.toml's
# dependencies (it needs PyPI, and makes pip-tools in a throwaway virtual environment).
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet --disable-pip-version-check "pip-tools==7.6.2" 2>&1 | grep -v "^WARNING: Location" || true
for extra in serve exporter; do
  lock=requirements/$([ "$extra" = serve ] && echo service || echo exporter).lock
  "$tools/bin/pip-compile" --quiet --generate-hashes --strip-extras --extra "$extra" --no-emit-index-url \
    --no-emit-find-links --output-file "$lock" pyproject.toml 2>&1 | grep -v "^WARNING: Location" || true
  echo "lock-dependencies: $lock"
done
