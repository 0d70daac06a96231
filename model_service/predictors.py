"""How a loaded version is evaluated (``service.predictor``), each behind the
artifacts' interface (``predict(frame) -> Answers``):

- ``native``: the registered artifact itself (scikit-learn, XGBoost, LightGBM
  or ONNX, as registered).
- ``onnx``: the version's portable ONNX form, when it was registered with one
  (``--onnx``; ``modelwatch train`` does); otherwise the artifact.
- ``fast``: a logistic regression over numeric features evaluated in plain
  Python and numpy (``LinearEvaluator``): the arithmetic of scikit-learn's
  ``predict_proba`` without its per-call validation (~95 µs for one row) or a
  DataFrame. It stands in only where it gives scikit-learn's answers on the
  version's probe rows (same classes, probabilities within 1e-9); anything
  else is evaluated natively.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from modelwatch.model_service.artifacts import Answers, LoadedArtifact, load_artifact

EXACT = 1e-9  # the largest difference in a probability for the fast evaluator to stand in


class LinearEvaluator:
    """Softmax (or, for two classes, the logistic function) of X @ coef.T + intercept, as
    LogisticRegression's ``predict_proba`` computes it. Takes validated rows (feature -> float)."""

    format = "scikit-learn"

    def __init__(self, artifact: LoadedArtifact, feature_names: Sequence[str]):
        model = artifact.model
        coef = np.asarray(model.coef_, dtype=np.float64)
        self.artifact = artifact
        self.classes = artifact.classes
        fitted_on = artifact.feature_names  # the coefficients' order, when the model was fitted on a frame
        self._names = fitted_on if fitted_on is not None else tuple(feature_names)
        self._binary = coef.shape[0] == 1 and len(self.classes) == 2
        self._weights = coef.T  # a view, as scikit-learn uses it: same float results
        self._intercept = np.asarray(model.intercept_, dtype=np.float64)
        self._row_weights = [(float(b), [float(w) for w in ws]) for ws, b in zip(coef.tolist(), self._intercept)]

    @staticmethod
    def candidate(artifact) -> bool:
        """A fitted logistic regression taking the features as they are (no pipeline in front)."""
        model = getattr(artifact, "model", None)
        coef = getattr(model, "coef_", None)
        classes = getattr(model, "classes_", None)
        if type(model).__name__ != "LogisticRegression" or coef is None or classes is None:
            return False
        rows = np.shape(coef)[0]
        return np.ndim(coef) == 2 and (rows == len(classes) > 2 or (rows == 1 and len(classes) == 2))

    def _probabilities(self, rows: list[dict]) -> np.ndarray:
        if len(rows) == 1:  # plain Python beats creating numpy arrays for one small row
            row = [rows[0][n] for n in self._names]
            scores = [sum(w * x for w, x in zip(weights, row)) + b for b, weights in self._row_weights]
            if self._binary:
                s = scores[0]
                p = 1.0 / (1.0 + math.exp(-s)) if s > -700 else (0.0 if s == s else math.nan)  # s != s: NaN
                return np.array([[1.0 - p, p]])
            top = max(scores)
            exps = [math.exp(s - top) for s in scores]
            total = sum(exps)
            return np.array([[e / total for e in exps]])
        matrix = np.array([[row[n] for n in self._names] for row in rows], dtype=np.float64)
        scores = matrix @ self._weights + self._intercept
        if self._binary:
            p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - p, p])
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def predict_rows(self, rows: list[dict]) -> Answers:
        probabilities = self._probabilities(rows)
        return Answers([self.classes[i] for i in probabilities.argmax(axis=1)], probabilities, None)

    def predict(self, frame) -> Answers:
        return self.predict_rows(frame.to_dict(orient="records"))

    def agrees(self, rows: list[dict], frame) -> bool:
        """Same classes and probabilities as scikit-learn on these rows, one at a time and together."""
        native = self.artifact.predict(frame)
        together = self.predict_rows(rows)
        alone = np.vstack([self._probabilities([row]) for row in rows])
        return (together.labels == native.labels
                and float(np.max(np.abs(together.probabilities - native.probabilities))) <= EXACT
                and float(np.max(np.abs(alone - native.probabilities))) <= EXACT)


def _native(artifact, folder: Path, metadata: dict, schema, rows: list[dict], frame):
    return artifact


def _onnx(artifact, folder: Path, metadata: dict, schema, rows: list[dict], frame):
    portable = metadata.get("portable") or {}
    if portable.get("format") != "onnx":
        return artifact
    onnx = load_artifact(folder / portable["file"])
    return onnx.with_classes(schema.classes) if schema.classes else onnx


def _fast(artifact, folder: Path, metadata: dict, schema, rows: list[dict], frame):
    if not LinearEvaluator.candidate(artifact) or any(f.kind != "numeric" or f.allow_missing for f in schema.features):
        return artifact
    evaluator = LinearEvaluator(artifact, schema.feature_names)
    return evaluator if evaluator.agrees(rows, frame) else artifact


# service.predictor -> (artifact, version folder, metadata, schema, probe rows, their frame) -> what answers
PREDICTORS: dict[str, Callable] = {"fast": _fast, "onnx": _onnx, "native": _native}


def choose(kind: str, artifact, folder: Path, metadata: dict, schema, rows: list[dict], frame):
    """The evaluator ``service.predictor`` names for a loaded version."""
    return PREDICTORS[kind](artifact, folder, metadata, schema, rows, frame)
