"""Loading a registered version for serving: checksums first, then the model
and its predictor, then the answers recorded at training must come back."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from modelwatch.model_service.predictors import Predictor
from modelwatch.models.registry import (DATA_BASELINE_FILE, MODEL_FILE, ONNX_FILE, VERSION_PATTERN, ModelLoadError,
                                        Registry)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    metadata: dict[str, Any]
    predictor: Predictor
    feature_names: tuple[str, ...]
    bucket_edges: tuple[tuple[float, ...], ...]  # per feature, see modelwatch.models.baselines
    load_seconds: float


def load_version(registry: Registry, version: str, predictor_kind: str) -> LoadedModel:
    """Load and verify a version: checksums, then the answers recorded at training."""
    started = time.perf_counter()
    if not VERSION_PATTERN.match(version) or not registry.version_dir(version).is_dir():
        raise ModelLoadError(version, "missing", f"no such version in {registry.model_dir}")
    metadata = registry.metadata(version)
    if "format" in metadata:  # registered with modelwatch models add
        from modelwatch.model_service.tabular import load_tabular

        return load_tabular(registry, version)
    folder = registry.version_dir(version)
    registry.verify(version, metadata)
    import joblib  # the serving stack: imported when a version is loaded
    import numpy as np

    from modelwatch.model_service.predictors import build_predictor, predict_classes

    try:
        model = joblib.load(folder / MODEL_FILE)
        predictor = build_predictor(predictor_kind, model, folder / ONNX_FILE)
        baseline = json.loads((folder / DATA_BASELINE_FILE).read_text())
        features = tuple(f["name"] for f in metadata["features"])
        edges = tuple(tuple(baseline["features"][name]["edges"]) for name in features)
        probe = metadata["probe"]
        rows = np.asarray(probe["rows"], dtype=np.float64)
        answers = predict_classes(predictor, rows)
        one_by_one = [predictor.classes[int(np.argmax(predictor.predict_row(r)))] for r in probe["rows"]]
    except Exception as exc:  # any failure to unpickle or evaluate rejects the version
        raise ModelLoadError(version, "unreadable", f"{type(exc).__name__}: {exc}") from None
    if answers != probe["classes"] or one_by_one != probe["classes"]:
        raise ModelLoadError(version, "mismatch", "answers differ from those recorded at training")
    return LoadedModel(
        name=registry.model_name,
        version=version,
        metadata=metadata,
        predictor=predictor,
        feature_names=features,
        bucket_edges=edges,
        load_seconds=time.perf_counter() - started,
    )
