#!/usr/bin/env bash
# The Prometheus line most users run today, beside bookworm's 2.42 / 0.25: Debian
# unstable's prometheus 3.5 (the long-term-support line), promtool and
# prometheus-alertmanager 0.33, statically linked Go binaries that run on
# bookworm. Fetched with apt-get from that suite into a private apt state (the
# system's sources and packages are not touched) and unpacked into
# tools/prometheus-current/bin, which `make test` puts first on PATH for the
# Prometheus tests' second run. Idempotent.
# Usage: scripts/current-prometheus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PROMETHEUS_LINE=3.5      # upstream lines accepted (Debian's revision moves within them)
ALERTMANAGER_LINE=0.33
dest=tools/prometheus-current
say() { printf 'current-prometheus: %s\n' "$*"; }

if [[ -x $dest/bin/prometheus && -x $dest/bin/promtool && -x $dest/bin/prometheus-alertmanager ]]; then
  say "present: $("$dest/bin/prometheus" --version 2>&1 | head -1)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/unpacked" "$dest/bin"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian unstable main" \
  > "$work/sources.list"
apt=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
apt-get "${apt[@]}" update -qq
for package in prometheus promtool prometheus-alertmanager; do
  version=$(apt-cache "${apt[@]}" show "$package" | awk '/^Version:/ {print $2; exit}')
  line=$([[ $package == prometheus-alertmanager ]] && echo "$ALERTMANAGER_LINE" || echo "$PROMETHEUS_LINE")
  [[ $version == "$line".* ]] || { say "error: unstable has $package $version, not $line.x" >&2; exit 1; }
  (cd "$work" && apt-get "${apt[@]}" download -qq "$package=$version")
  dpkg -x "$work/${package}_"*.deb "$work/unpacked"
  say "$package $version"
done
install -m 0755 "$work/unpacked/usr/bin/prometheus" "$work/unpacked/usr/bin/promtool" \
  "$work/unpacked/usr/bin/prometheus-alertmanager" "$work/unpacked/usr/bin/amtool" "$dest/bin/"
"$dest/bin/prometheus" --version 2>&1 | head -1
