#!/usr/bin/env bash
# Compile the Open Inference Protocol's gRPC service (the published .proto,
# vendored unchanged in modelwatch/protocol/ from kserve/open-inference-protocol,
# Apache-2.0; see its README.md) into the Python modules the service, the load
# tests and the probe import. The generated code is committed so they need only
# grpcio and protobuf; tests/test_protocol.py regenerates it into a temporary
# folder (OUT=folder) and fails when the committed modules differ.
# Usage: scripts/update-oip-grpc.sh   (needs grpcio-tools, in the test extra)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
out=${OUT:-.}/modelwatch/protocol
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# From the repository root, so the generated modules import each other as modelwatch.protocol.*
"$python" -m grpc_tools.protoc -I . --python_out="$work" --pyi_out="$work" --grpc_python_out="$work" \
  modelwatch/protocol/open_inference_grpc.proto
# A descriptor pool of its own: Triton's client defines the same inference.* messages in the default
# pool, and a process that imports both (a test, a notebook serving and calling) would fail to start.
generated=$work/modelwatch/protocol
sed -i 's/_descriptor_pool\.Default()\.AddSerializedFile(/_descriptor_pool.DescriptorPool().AddSerializedFile(/' \
  "$generated/open_inference_grpc_pb2.py"
grep -q "DescriptorPool().AddSerializedFile" "$generated/open_inference_grpc_pb2.py" \
  || { echo "update-oip-grpc: the generated module's pool line changed; update this script" >&2; exit 1; }
mkdir -p "$out"
cp "$generated"/open_inference_grpc_pb2*.py* "$out/"
echo "update-oip-grpc: $(cd "$out" && ls open_inference_grpc_pb2* | tr '\n' ' ')"
