"""The Iris example (``modelwatch train``): fit a classifier on half of
scikit-learn's bundled Iris data and register it like any user's model
(``model_service.registration``), with the other half as its held-out
reference data, its ONNX form checked against it, and the talk's short feature
names with their units.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import skl2onnx
import skops.io
import yaml
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from modelwatch.core.config import Config
from modelwatch.model_service.registration import Registered, Request, register

# The talk's short names, in the column order of scikit-learn's bundled data.
FEATURES = (
    {"name": "sl", "description": "sepal length", "unit": "cm"},
    {"name": "sw", "description": "sepal width", "unit": "cm"},
    {"name": "pl", "description": "petal length", "unit": "cm"},
    {"name": "pw", "description": "petal width", "unit": "cm"},
)
TARGET = "species"
REFERENCE_SHARE = 0.5  # held out: the data baseline and the reference quality come from rows the model never saw


def load_dataset() -> pd.DataFrame:
    """Iris as a frame: the four features under the talk's names and the species ("Iris setosa"...)."""
    iris = load_iris()  # bundled with scikit-learn: no download
    frame = pd.DataFrame(iris.data.astype(np.float64), columns=[f["name"] for f in FEATURES])
    frame[TARGET] = [f"Iris {iris.target_names[t]}" for t in iris.target]
    return frame


def _export_onnx(model: LogisticRegression, path: Path) -> None:
    onnx_model = skl2onnx.convert_sklearn(
        model,
        initial_types=[("features", FloatTensorType([None, len(FEATURES)]))],
        options={id(model): {"zipmap": False}},
        target_opset=17,
    )
    path.write_bytes(onnx_model.SerializeToString())


def train(config: Config, version: str | None = None) -> Registered:
    """Fit the classifier and register it as a new version of ``model.name``."""
    frame = load_dataset()
    names = [f["name"] for f in FEATURES]
    fitting, reference = train_test_split(frame, test_size=REFERENCE_SHARE, stratify=frame[TARGET],
                                          random_state=config.model.random_seed)
    model = LogisticRegression(max_iter=1000, random_state=config.model.random_seed)
    model.fit(fitting[names], fitting[TARGET])
    with tempfile.TemporaryDirectory(prefix="modelwatch-train-") as scratch:
        folder = Path(scratch)
        skops.io.dump(model, folder / "iris.skops")
        _export_onnx(model, folder / "iris.onnx")
        reference.to_csv(folder / "reference.csv", index=False)
        schema = {"features": {f["name"]: {"unit": f["unit"], "description": f["description"]} for f in FEATURES}}
        (folder / "schema.yaml").write_text(yaml.safe_dump(schema))
        return register(config, Request(
            name=config.model.name, artifact=folder / "iris.skops", reference=folder / "reference.csv",
            target=TARGET, task="classification", schema_file=folder / "schema.yaml", version=version,
            onnx=folder / "iris.onnx"))
