"""The committed gRPC modules are what scripts/update-oip-grpc.sh makes from the
vendored .proto today: a changed .proto or generator shows up here, not at run time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "modelwatch" / "protocol"


def test_the_generated_modules_are_current(tmp_path):
    pytest.importorskip("grpc_tools")
    result = subprocess.run(["bash", "scripts/update-oip-grpc.sh"], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, OUT=str(tmp_path), PYTHON=sys.executable), timeout=120)
    assert result.returncode == 0, result.stderr
    generated = sorted(p.name for p in (tmp_path / "modelwatch" / "protocol").iterdir())
    assert generated == ["open_inference_grpc_pb2.py", "open_inference_grpc_pb2.pyi", "open_inference_grpc_pb2_grpc.py"]
    stale = [name for name in generated
             if (tmp_path / "modelwatch" / "protocol" / name).read_bytes() != (PROTOCOL / name).read_bytes()]
    assert not stale, f"run scripts/update-oip-grpc.sh: {stale} differ from what the .proto gives"


def test_the_messages_do_not_clash_with_triton_s_client_in_one_process():
    pytest.importorskip("tritonclient.grpc")
    code = ("import tritonclient.grpc\n"
            "from modelwatch.protocol import open_inference_grpc_pb2 as pb\n"
            "print(pb.ModelInferRequest(model_name='m').SerializeToString().hex())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-1000:]
    assert result.stdout.strip() == "0a016d"
