#!/bin/sh
# Install modelwatch with one extra ("serve" or "exporter") into /opt/modelwatch:
# from build/wheelhouse when the build context has one (offline builds, see
# scripts/build-images.sh), else from the sources and PyPI. pip and setuptools
# go afterwards: nothing is installed at run time.
set -eu
extra=$1
python3 -m venv /opt/modelwatch
if [ -d /src/build/wheelhouse ]; then
  /opt/modelwatch/bin/pip install --no-index --find-links=/src/build/wheelhouse "modelwatch[$extra]"
else
  /opt/modelwatch/bin/pip install "/src[$extra]"
fi
/opt/modelwatch/bin/pip uninstall --yes --quiet pip setuptools
