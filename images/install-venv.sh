#!/bin/sh
# Install modelwatch with one extra ("serve" or "exporter") into /opt/modelwatch:
# its dependencies exactly as locked, every file checked against its sha256
# (requirements/service.lock or exporter.lock, --require-hashes), then modelwatch
# itself without dependencies; from build/wheelhouse when the build context has
# one (offline builds, see scripts/build-images.sh), else from PyPI. pip and
# setuptools go afterwards: nothing is installed at run time.
set -eu
extra=$1
lock=/src/requirements/$([ "$extra" = serve ] && echo service || echo exporter).lock
python3 -m venv /opt/modelwatch
if [ -d /src/build/wheelhouse ]; then
  /opt/modelwatch/bin/pip install --no-index --find-links=/src/build/wheelhouse --require-hashes -r "$lock"
  /opt/modelwatch/bin/pip install --no-index --find-links=/src/build/wheelhouse --no-deps modelwatch
else
  /opt/modelwatch/bin/pip install --require-hashes -r "$lock"
  /opt/modelwatch/bin/pip install --no-deps /src
fi
/opt/modelwatch/bin/pip check
/opt/modelwatch/bin/pip uninstall --yes --quiet pip setuptools
