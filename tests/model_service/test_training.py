import json

import numpy as np
import pytest

from modelwatch.models.baselines import bucket_indexes
from modelwatch.model_service.predictors import LinearPredictor, NativePredictor, OnnxPredictor, predict_classes
from modelwatch.models.registry import Registry, sha256_of
from modelwatch.model_service.training import FEATURES, load_dataset, train
from modelwatch.core.errors import ModelwatchError
from tests.conftest import make_config


@pytest.fixture
def registry(config):
    return Registry(config.paths.registry_dir, config.model.name)


def test_artifact_metadata(registry):
    folder = registry.version_dir("v1")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["version"] == "v1" and meta["name"] == "iris"
    for name, digest in meta["sha256"].items():
        assert sha256_of(folder / name) == digest
    assert [f["name"] for f in meta["features"]] == ["sl", "sw", "pl", "pw"]
    assert all(f["unit"] == "cm" for f in meta["features"])
    assert meta["classes"] == ["Iris setosa", "Iris versicolor", "Iris virginica"]
    assert meta["metrics"]["validation"]["accuracy"] > 0.9
    assert {"scikit-learn", "numpy", "onnxruntime", "python"} <= set(meta["libraries"])
    assert meta["created"].endswith("+00:00")


def test_data_baseline(registry):
    baseline = json.loads((registry.version_dir("v1") / "data-baseline.json").read_text())
    assert baseline["rows"] == 120
    assert sum(baseline["class_mix"].values()) == pytest.approx(1.0, abs=1e-5)
    for name in ("sl", "sw", "pl", "pw"):
        feature = baseline["features"][name]
        edges = feature["edges"]
        assert edges == sorted(set(edges))
        assert len(feature["buckets"]) == len(edges) + 1 == len(feature["reference_fractions"])
        assert sum(feature["reference_fractions"]) == pytest.approx(1.0, abs=1e-5)
        # Training data lies inside its own range: the out-of-range buckets are empty.
        assert feature["reference_fractions"][0] == feature["reference_fractions"][-1] == 0


def test_bucket_edges_are_inclusive_above():
    edges = [1.0, 2.0, 3.0]
    values = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    expected = [0, 1, 1, 1, 2, 2, 3]  # below, [1,2], (2,3], above
    assert bucket_indexes(edges, values).tolist() == expected


def test_portable_and_fast_predictors_agree_with_sklearn_on_whole_dataset(registry):
    import joblib

    folder = registry.version_dir("v1")
    model = joblib.load(folder / "model.joblib")
    features, _ = load_dataset()
    native = [str(c) for c in model.predict(features)]
    assert predict_classes(OnnxPredictor(folder / "model.onnx", model.classes_), features) == native
    assert predict_classes(LinearPredictor(model), features) == native
    assert predict_classes(NativePredictor(model), features) == native
    np.testing.assert_allclose(LinearPredictor(model).predict_proba(features), model.predict_proba(features), rtol=1e-9)
    # The one-row paths, as classify uses them.
    for predictor in (LinearPredictor(model), OnnxPredictor(folder / "model.onnx", model.classes_)):
        rows = [predictor.predict_row(row) for row in features.tolist()]
        assert [predictor.classes[int(np.argmax(p))] for p in rows] == native
    np.testing.assert_allclose([LinearPredictor(model).predict_row(r) for r in features.tolist()],
                               model.predict_proba(features), rtol=1e-9)


def test_second_version_leaves_first_untouched(config, registry):
    before = {p.name: sha256_of(p) for p in registry.version_dir("v1").iterdir()}
    version, _ = train(config)
    assert version == "v3"  # the session fixture registered v1 and v2
    assert {p.name: sha256_of(p) for p in registry.version_dir("v1").iterdir()} == before
    assert registry.deployment().stable == "v1"  # registering does not deploy
    with pytest.raises(ModelwatchError, match="already exists"):
        train(config, "v1")


def test_no_staging_left_after_failure(tmp_path):
    config = make_config(tmp_path)
    with pytest.raises(ModelwatchError, match="invalid version name"):
        train(config, "bad/name")
    assert [p.name for p in (tmp_path / "models" / "iris").iterdir()] == []


def test_features_are_the_talks_names():
    assert [f["name"] for f in FEATURES] == ["sl", "sw", "pl", "pw"]
