"""(d) MLServer and (e) BentoML serving the same fitted model, each in its own
virtual environment under .bench-venvs/ (or ``$MODELWATCH_VENVS``; created on
first use from PyPI, again when its requirements change)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

VENVS = Path(os.environ.get("MODELWATCH_VENVS", ".bench-venvs"))
REQUIREMENTS = {
    # MLServer 1.7.1 and every package under it, pinned (it needs uvloop 0.21.0: newer uvloop breaks
    # its event loop set-up)
    "mlserver": ["-r", str(Path(__file__).resolve().parents[1] / "requirements" / "mlserver.lock")],
    "bentoml": ["bentoml==1.4.40", "scikit-learn", "joblib"],
}
BODY = {"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.3}

BENTO_SERVICE = '''
import os

import bentoml
import joblib
import numpy as np


@bentoml.service(workers=2)
class IrisClassifier:
    def __init__(self):
        self.model = joblib.load(os.environ["MODELWATCH_BENCH_MODEL"])

    @bentoml.api
    def classify(self, sl: float, sw: float, pl: float, pw: float) -> dict:
        return {"species": str(self.model.predict(np.array([[sl, sw, pl, pw]]))[0])}
'''


def ensure_venv(name: str) -> Path:
    """The venv's python, created and filled when missing."""
    python = VENVS / name / "bin" / "python"
    stamp = VENVS / name / ".installed"
    wanted = "\n".join(Path(r).read_text() if r.endswith(".lock") else r for r in REQUIREMENTS[name])
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENVS / name)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS[name]],
                       check=True)
        stamp.write_text(wanted)
    return python


def mlserver_setup(
    model_file: Path, folder: Path, ports: tuple[int, int, int], parallel_workers: int, name: str = "iris",
) -> tuple[list[str], dict]:
    """Command and (Iris) body of an MLServer serving ``model_file``, a joblib file, as ``name`` with the V2 protocol."""
    model_dir = folder / name
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model-settings.json").write_text(json.dumps({
        "name": name, "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(model_file.resolve()), "version": "v1"},
    }))
    (folder / "settings.json").write_text(json.dumps({
        "host": "127.0.0.1", "http_port": ports[0], "grpc_port": ports[1], "metrics_port": ports[2],
        "parallel_workers": parallel_workers, "debug": False, "metrics_dir": str(folder / "metrics"),
    }))
    python = ensure_venv("mlserver")
    command = [str(python.parent / "mlserver"), "start", str(folder)]
    body = {"inputs": [{"name": "predict", "shape": [1, 4], "datatype": "FP64", "data": [[5.1, 3.5, 1.4, 0.3]]}]}
    return command, body


def bentoml_setup(folder: Path, port: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.py").write_text(BENTO_SERVICE)
    python = ensure_venv("bentoml")
    return [str(python.parent / "bentoml"), "serve", "service:IrisClassifier", "--host", "127.0.0.1",
            "--port", str(port), "--working-dir", str(folder)]
