"""Train the Iris classifier and register it as a new model version.

Writes the fitted model (joblib), the same model in portable form (ONNX), the
data baseline and the metadata, and proves that the ONNX and fast-path
predictors give the same classes as scikit-learn on the whole dataset.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path

import joblib
import numpy as np
import onnxruntime
import skl2onnx
import sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from modelwatch.models.baselines import data_baseline
from modelwatch.model_service.predictors import LinearPredictor, OnnxPredictor, predict_classes
from modelwatch.models.registry import (
    DATA_BASELINE_FILE,
    METADATA_FILE,
    Deployment,
    MODEL_FILE,
    ONNX_FILE,
    Registry,
    sha256_of,
)
from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError

# The talk's short names, in the column order of scikit-learn's bundled data.
FEATURES = (
    {"name": "sl", "description": "sepal length", "unit": "cm"},
    {"name": "sw", "description": "sepal width", "unit": "cm"},
    {"name": "pl", "description": "petal length", "unit": "cm"},
    {"name": "pw", "description": "petal width", "unit": "cm"},
)
PROBE_ROWS = 12  # validation rows whose answers every load re-checks


def load_dataset() -> tuple[np.ndarray, np.ndarray]:
    iris = load_iris()  # bundled with scikit-learn: no download
    species = np.array([f"Iris {iris.target_names[t]}" for t in iris.target])
    return iris.data.astype(np.float64), species


def _scores(model, features, labels) -> dict[str, float]:
    predicted = model.predict(features)
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 6),
        "f1_macro": round(float(f1_score(labels, predicted, average="macro")), 6),
    }


def _export_onnx(model, path: Path) -> None:
    onnx_model = skl2onnx.convert_sklearn(
        model,
        initial_types=[("features", FloatTensorType([None, len(FEATURES)]))],
        options={id(model): {"zipmap": False}},
        target_opset=17,
    )
    path.write_bytes(onnx_model.SerializeToString())


def _check_equivalent(name: str, expected: list[str], got: list[str]) -> None:
    differing = sum(a != b for a, b in zip(expected, got))
    if differing:
        raise ModelwatchError(f"{name} predictor disagrees with scikit-learn on {differing} of {len(expected)} rows")


def train(config: Config, version: str | None = None) -> tuple[str, Path]:
    """Fit, verify and register a new version; returns (version, folder)."""
    registry = Registry(config.paths.registry_dir, config.model.name)
    version = version or registry.next_version()
    if registry.version_dir(version).exists():
        raise ModelwatchError(f"model version {version!r} already exists in {registry.model_dir}")
    features, species = load_dataset()
    train_x, valid_x, train_y, valid_y = train_test_split(
        features, species, test_size=0.2, stratify=species, random_state=config.model.random_seed
    )
    model = LogisticRegression(max_iter=1000, random_state=config.model.random_seed)
    model.fit(train_x, train_y)

    staging = registry.staging_dir()
    try:
        joblib.dump(model, staging / MODEL_FILE)
        _export_onnx(model, staging / ONNX_FILE)
        native = [str(c) for c in model.predict(features)]
        onnx_answers = predict_classes(OnnxPredictor(staging / ONNX_FILE, model.classes_), features)
        _check_equivalent("ONNX", native, onnx_answers)
        _check_equivalent("fast", native, predict_classes(LinearPredictor(model), features))

        names = [f["name"] for f in FEATURES]
        baseline = data_baseline(train_x, list(train_y), names, config.model.feature_buckets)
        (staging / DATA_BASELINE_FILE).write_text(json.dumps(baseline, indent=2, sort_keys=True) + "\n")
        metadata = {
            "name": config.model.name,
            "version": version,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "algorithm": type(model).__name__,
            "features": list(FEATURES),
            "classes": [str(c) for c in model.classes_],
            "metrics": {"training": _scores(model, train_x, train_y), "validation": _scores(model, valid_x, valid_y)},
            "rows": {"training": int(len(train_y)), "validation": int(len(valid_y))},
            "libraries": {
                "python": platform.python_version(),
                "scikit-learn": sklearn.__version__,
                "numpy": np.__version__,
                "skl2onnx": skl2onnx.__version__,
                "onnxruntime": onnxruntime.__version__,
            },
            "portable": {"format": "onnx", "file": ONNX_FILE, "same_classes_on_dataset": True},
            "probe": {
                "rows": valid_x[:PROBE_ROWS].tolist(),
                "classes": [str(c) for c in model.predict(valid_x[:PROBE_ROWS])],
            },
            "sha256": {name: sha256_of(staging / name) for name in (MODEL_FILE, ONNX_FILE, DATA_BASELINE_FILE)},
        }
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
        folder = registry.commit(staging, version)
    except BaseException:
        for leftover in staging.glob("*"):
            leftover.unlink()
        staging.rmdir()
        raise
    if not registry.deployment_file.exists():
        # The first version serves; later ones wait until deployed.
        registry.set_deployment(Deployment(stable=version))
    return version, folder
