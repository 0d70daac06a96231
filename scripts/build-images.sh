#!/usr/bin/env bash
# Build the modelwatch images where no image registry is reachable: a Debian
# bookworm base made with debootstrap (python3, python3-venv) and imported into
# Docker, a wheelhouse of the project and its dependencies built on the host,
# and the two targets of images/Dockerfile built from them. Idempotent: the base
# image is made once; the untagged stage images a build leaves (the legacy
# builder keeps them as cache) are removed after it. Usage: [MODEL_VERSIONS="v1 v2"] scripts/build-images.sh [TAG]
# (default tag: dev; default versions baked in: v1)
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${1:-dev}"
BASE=modelwatch-base:bookworm
PYTHON="${PYTHON:-.venv/bin/python}"

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  root=build/base/rootfs
  rm -rf "$root" && mkdir -p "$root"
  echo "build-images: debootstrap bookworm (python3, python3-venv)"
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" http://deb.debian.org/debian >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import - "$BASE" >/dev/null
  rm -rf build/base
fi

# After the build, failed or not: the build stages and any image this tag
# replaced, which are untagged and labelled as ours.
trap 'docker image prune --force --filter label=org.opencontainers.image.vendor=modelwatch >/dev/null' EXIT

echo "build-images: wheelhouse"
# Exactly the locked files, each checked against its sha256 (requirements/*.lock), and modelwatch itself.
rm -rf build/wheelhouse
for lock in requirements/service.lock requirements/exporter.lock; do
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: --require-hashes --no-deps \
    -r "$lock" -d build/wheelhouse 2>&1 | grep -v "^WARNING: Location" || true
done
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir build/wheelhouse . 2>&1 \
  | grep -v "^WARNING: Location" || true

for target in service exporter; do
  name=$([ "$target" = service ] && echo modelwatch/model-service || echo modelwatch/exporter)
  echo "build-images: $name:$TAG"
  docker build --quiet --force-rm --network none -f images/Dockerfile --target "$target" --build-arg BASE_IMAGE="$BASE" --build-arg MODEL_VERSIONS="${MODEL_VERSIONS:-v1}" -t "$name:$TAG" . >/dev/null
done
