#!/usr/bin/env bash
# Set up modelwatch on this machine, idempotently:
#   1. Debian packages the stack runs and its tests use (Prometheus, Alertmanager,
#      Docker, busybox, wrk and node_exporter for benchmarks, Chromium for what a
#      person looks at),
#   2. a virtual environment in .venv with modelwatch and its test tools installed.
# Usage: scripts/setup.sh            (CI=true makes a missing system package an error)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# command that proves the package is there -> Debian package name
declare -A PACKAGES=(
  [prometheus]=prometheus
  [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [dockerd]=docker.io
  [busybox]=busybox-static
  [wrk]=wrk
  [chromium]=chromium
  [prometheus-node-exporter]=prometheus-node-exporter
  [debootstrap]=debootstrap
  [docker-compose]=docker-compose
  [haproxy]=haproxy
)

missing=()
for cmd in "${!PACKAGES[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PACKAGES[$cmd]}")
done
readarray -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

if ((${#missing[@]})); then
  if [[ ! -r /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
    msg="not a Debian system: install ${missing[*]} with your package manager"
    [[ "${CI:-}" == true ]] && die "$msg"
    say "warning: $msg; tests that need them will be skipped"
  elif [[ $(id -u) -ne 0 ]]; then
    msg="missing Debian packages: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}"
    [[ "${CI:-}" == true ]] && die "$msg"
    say "warning: $msg; tests that need them will be skipped"
  else
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  say "Debian packages present (prometheus, prometheus-alertmanager, docker.io, busybox-static, wrk, chromium, prometheus-node-exporter, debootstrap, docker-compose, haproxy)"
fi

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python >= 3.11 is needed; $("$python" --version 2>&1) found (set PYTHON=/path/to/python3.11)"

if [[ ! -x .venv/bin/python ]]; then
  say "creating virtual environment .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  say "installing modelwatch and its dependencies into .venv"
  # (filter pip's warnings about find-links folders some machines' pip.conf names but lack)
  .venv/bin/pip install -q --disable-pip-version-check -e '.[all,test]' 2> >(grep -v '^WARNING: Location' >&2)
  touch "$stamp"
else
  say "modelwatch already installed in .venv"
fi
