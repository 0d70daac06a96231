"""Loading a user's model artifact, by format, behind one small interface.

| format | file | loads without running the file's code |
|---|---|---|
| skops | ``.skops`` | yes: types outside skops' trusted set are refused unless named in ``trusted_types`` |
| joblib / pickle | ``.joblib``, ``.pkl``, ``.pickle`` | no: refused unless ``trust_pickle`` |
| ONNX | ``.onnx`` | yes (onnxruntime) |
| XGBoost | ``.ubj``, ``.xgb.json`` (its scikit-learn API's ``save_model``) | yes |
| LightGBM | ``.lgb.txt`` (``booster_.save_model``) | yes |

Every loaded model answers ``predict(frame)`` for a pandas DataFrame whose
columns are the schema's features: a classifier gives its classes and, when it
has them, the class probabilities; a regressor its values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from modelwatch.core import extras
from modelwatch.core.errors import ModelwatchError

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


class ArtifactError(ModelwatchError):
    """An artifact that cannot be loaded, or may not be: the message says which and why."""


@dataclass
class Answers:
    labels: list[str] | None  # a classifier's predicted classes
    probabilities: np.ndarray | None  # rows x classes, in ``classes`` order
    values: np.ndarray | None  # a regressor's predictions


class LoadedArtifact:
    """A fitted model with the scikit-learn API (predict, and predict_proba for classifiers)."""

    format = "scikit-learn"

    def __init__(self, model: Any):
        self.model = model

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        names = getattr(self.model, "feature_names_in_", None)
        return None if names is None else tuple(str(n) for n in names)

    @property
    def classes(self) -> tuple[str, ...]:
        classes = getattr(self.model, "classes_", None)
        return () if classes is None else tuple(str(c) for c in classes)

    def predict(self, frame) -> Answers:
        if self.classes:
            probabilities = (np.asarray(self.model.predict_proba(frame), dtype=np.float64)
                             if hasattr(self.model, "predict_proba") else None)
            if probabilities is not None:
                labels = [self.classes[i] for i in np.argmax(probabilities, axis=1)]
            else:
                labels = [str(c) for c in self.model.predict(frame)]
            return Answers(labels, probabilities, None)
        return Answers(None, None, np.asarray(self.model.predict(frame), dtype=np.float64).reshape(len(frame)))


class OnnxArtifact:
    """An ONNX model: one float tensor of all features, or one input per feature (skl2onnx's
    form for pipelines with categorical columns)."""

    format = "onnx"

    def __init__(self, path: Path):
        import onnxruntime

        self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        self.outputs = [o.name for o in self.session.get_outputs()]
        self._classes: tuple[str, ...] = ()

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        return None if len(self.inputs) == 1 else tuple(i.name for i in self.inputs)

    @property
    def classes(self) -> tuple[str, ...]:
        return self._classes

    def with_classes(self, classes: tuple[str, ...]) -> "OnnxArtifact":
        self._classes = tuple(classes)
        return self

    def _feeds(self, frame) -> dict[str, np.ndarray]:
        if len(self.inputs) == 1:
            return {self.inputs[0].name: frame.to_numpy(dtype=np.float32)}
        feeds = {}
        for spec in self.inputs:
            column = frame[spec.name]
            if spec.type == "tensor(string)":
                feeds[spec.name] = column.astype(object).where(column.notna(), "").astype(str).to_numpy().reshape(-1, 1)
            elif spec.type == "tensor(int64)":
                feeds[spec.name] = column.to_numpy(dtype=np.int64).reshape(-1, 1)
            else:
                feeds[spec.name] = column.to_numpy(dtype=np.float32).reshape(-1, 1)
        return feeds

    def predict(self, frame) -> Answers:
        results = self.session.run(None, self._feeds(frame))
        if not self._classes:
            return Answers(None, None, np.asarray(results[0], dtype=np.float64).reshape(len(frame)))
        probabilities = np.asarray(results[1], dtype=np.float64) if len(results) > 1 else None
        if probabilities is not None and probabilities.ndim == 2 and probabilities.shape[1] == len(self._classes):
            labels = [self._classes[i] for i in np.argmax(probabilities, axis=1)]
        else:
            probabilities, labels = None, [str(v) for v in np.asarray(results[0]).reshape(len(frame))]
        return Answers(labels, probabilities, None)


def _skops(path: Path, trusted_types: tuple[str, ...], trust_pickle: bool) -> LoadedArtifact:
    extras.require("serve")
    import skops.io

    untrusted = [t for t in skops.io.get_untrusted_types(file=path) if t not in trusted_types]
    if untrusted:
        raise ArtifactError(f"{path.name} holds types skops does not trust by default: {', '.join(untrusted)}; "
                            f"if you trust them: {' '.join('--trust-type ' + t for t in untrusted)}")
    return LoadedArtifact(skops.io.load(path, trusted=list(trusted_types) or None))


def _pickle(path: Path, trusted_types: tuple[str, ...], trust_pickle: bool) -> LoadedArtifact:
    if not trust_pickle:
        raise ArtifactError(f"{path.name} is a pickle: loading it runs code from the file. Save the model with "
                            "skops or ONNX instead, or pass --trust-pickle if you trust where it came from")
    import joblib

    return LoadedArtifact(joblib.load(path))


def _onnx(path: Path, trusted_types: tuple[str, ...], trust_pickle: bool) -> OnnxArtifact:
    return OnnxArtifact(path)


def _xgboost(path: Path, trusted_types: tuple[str, ...], trust_pickle: bool) -> LoadedArtifact:
    extras.require("xgboost")
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(str(path))
    objective = booster.save_config()
    model = xgboost.XGBClassifier() if '"binary:' in objective or '"multi:' in objective else xgboost.XGBRegressor()
    model.load_model(str(path))
    return LoadedArtifact(model)


def _lightgbm(path: Path, trusted_types: tuple[str, ...], trust_pickle: bool) -> LoadedArtifact:
    extras.require("lightgbm")
    import lightgbm

    return LoadedArtifact(_LightgbmModel(lightgbm.Booster(model_file=str(path))))


class _LightgbmModel:
    """A LightGBM booster with the scikit-learn API's names (its classes are 0..n-1)."""

    def __init__(self, booster):
        self.booster = booster
        self.feature_names_in_ = np.asarray(booster.feature_name())
        objective = booster.params.get("objective", "")
        classes = booster.params.get("num_class", 1 if objective.startswith("binary") else 0)
        if objective.startswith(("binary", "multiclass")):
            self.classes_ = np.arange(max(2, int(classes)))

    def predict_proba(self, frame):
        raw = np.asarray(self.booster.predict(frame))
        return np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw

    def predict(self, frame):
        if hasattr(self, "classes_"):
            return self.classes_[np.argmax(self.predict_proba(frame), axis=1)]
        return self.booster.predict(frame)


# file ending -> loader; the longest matching ending wins
FORMATS: dict[str, Callable[[Path, tuple[str, ...], bool], Any]] = {
    ".skops": _skops,
    **{suffix: _pickle for suffix in PICKLE_SUFFIXES},
    ".onnx": _onnx,
    ".ubj": _xgboost,
    ".xgb.json": _xgboost,
    ".lgb.txt": _lightgbm,
}


def format_of(path: Path) -> str:
    name = path.name.lower()
    matches = sorted((s for s in FORMATS if name.endswith(s)), key=len, reverse=True)
    if not matches:
        raise ArtifactError(f"{path.name}: unknown artifact format; one of {', '.join(FORMATS)}")
    return matches[0]


def load_artifact(path: Path, trusted_types: tuple[str, ...] = (), trust_pickle: bool = False):
    """The loaded model, or ArtifactError saying why not (unreadable, untrusted, unknown format)."""
    path = Path(path)
    loader = FORMATS[format_of(path)]
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file")
    try:
        return loader(path, tuple(trusted_types), trust_pickle)
    except ModelwatchError:
        raise
    except Exception as exc:  # a corrupt or foreign file: one line, whatever the library raised
        raise ArtifactError(f"{path.name} could not be loaded: {type(exc).__name__}: {str(exc)[:200]}") from None
