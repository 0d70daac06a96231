import json

import numpy as np
import pytest

from modelwatch.core.errors import ModelwatchError
from modelwatch.model_service import predictors
from modelwatch.model_service.artifacts import LoadedArtifact
from modelwatch.model_service.tabular import evaluate, frame_of, load_version
from modelwatch.model_service.training import FEATURES, TARGET, load_dataset, train
from modelwatch.models.baselines import bucket_indexes
from modelwatch.models.registry import Registry, sha256_of
from tests.conftest import make_config


@pytest.fixture
def registry(config):
    return Registry(config.paths.registry_dir, config.model.name)


def test_registered_like_any_model(registry):
    folder = registry.version_dir("v1")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["version"] == "v1" and meta["name"] == "iris"
    assert (meta["format"], meta["artifact"], meta["algorithm"]) == ("scikit-learn", "model.skops", "LogisticRegression")
    assert meta["portable"] == {"format": "onnx", "file": "model.onnx"}
    assert meta["trusted"] == {"pickle": False, "types": []}  # a skops file of trusted types only
    for name, digest in meta["sha256"].items():
        assert sha256_of(folder / name) == digest
    assert [f["name"] for f in meta["features"]] == ["sl", "sw", "pl", "pw"]
    assert all(f["unit"] == "cm" for f in meta["features"])
    assert meta["classes"] == ["Iris setosa", "Iris versicolor", "Iris virginica"]
    reference = meta["quality"]["reference"]
    assert reference["rows"] == 75 and 0.9 < reference["accuracy"] < 1.0  # held out, so not perfect
    assert {"scikit-learn", "numpy", "onnxruntime", "skops", "python"} <= set(meta["libraries"])
    assert meta["created"].endswith("+00:00")
    assert len(meta["probe"]["rows"]) == len(meta["probe"]["classes"]) == 12


def test_data_baseline_is_the_held_out_half(registry):
    baseline = json.loads((registry.version_dir("v1") / "data-baseline.json").read_text())
    assert baseline["rows"] == 75
    assert sum(baseline["class_mix"].values()) == pytest.approx(1.0, abs=1e-5)
    for name in ("sl", "sw", "pl", "pw"):
        feature = baseline["features"][name]
        edges = feature["edges"]
        assert edges == sorted(set(edges))
        assert len(feature["buckets"]) == len(edges) + 1 == len(feature["reference_fractions"])
        assert sum(feature["reference_fractions"]) == pytest.approx(1.0, abs=1e-5)
        # The reference lies inside its own range: the out-of-range buckets are empty.
        assert feature["reference_fractions"][0] == feature["reference_fractions"][-1] == 0


def test_bucket_edges_are_inclusive_above():
    edges = [1.0, 2.0, 3.0]
    values = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    expected = [0, 1, 1, 1, 2, 2, 3]  # below, [1,2], (2,3], above
    assert bucket_indexes(edges, values).tolist() == expected


def test_fast_and_onnx_evaluators_give_sklearns_answers_on_the_whole_dataset(registry):
    loaded = {kind: load_version(registry, "v1", kind) for kind in predictors.PREDICTORS}
    assert {kind: type(m.artifact).__name__ for kind, m in loaded.items()} == {
        "fast": "LinearEvaluator", "onnx": "OnnxArtifact", "native": "LoadedArtifact"}
    frame = load_dataset().drop(columns=[TARGET])
    rows = frame.to_dict(orient="records")
    schema = loaded["native"].schema
    native, _ = evaluate(loaded["native"].artifact, rows, schema)
    assert native.labels == [str(c) for c in loaded["native"].artifact.model.predict(frame_of(rows, schema))]
    for kind in ("fast", "onnx"):
        assert evaluate(loaded[kind].artifact, rows, schema)[0].labels == native.labels, kind
    fast = loaded["fast"].artifact
    np.testing.assert_allclose(fast.predict_rows(rows).probabilities, native.probabilities, rtol=1e-9, atol=1e-12)
    # one row at a time, as classify evaluates it (the plain-Python path)
    alone = np.vstack([fast.predict_rows([row]).probabilities for row in rows])
    np.testing.assert_allclose(alone, native.probabilities, rtol=1e-9, atol=1e-12)


def test_fast_evaluates_binary_regressions_too():
    from sklearn.linear_model import LogisticRegression

    data = load_dataset()
    names = [f["name"] for f in FEATURES]
    setosa = data[TARGET] == "Iris setosa"
    artifact = LoadedArtifact(LogisticRegression().fit(data[names], setosa.map({True: "yes", False: "no"})))
    rows = data[names].to_dict(orient="records")
    chosen = predictors.choose("fast", artifact, None, {}, _schema(), rows[:12], data[names].head(12))
    assert type(chosen).__name__ == "LinearEvaluator"
    expected = artifact.predict(data[names])
    assert chosen.predict_rows(rows).labels == expected.labels
    np.testing.assert_allclose(chosen.predict_rows(rows[:1]).probabilities, expected.probabilities[:1], rtol=1e-9)


def _schema():
    from modelwatch.models.schema import Feature, ModelSchema

    return ModelSchema("classification", tuple(Feature(f["name"], "numeric") for f in FEATURES))


def test_fast_stands_in_only_where_it_gives_the_same_answers():
    import sklearn.linear_model

    class LogisticRegression(sklearn.linear_model.LogisticRegression):
        """A user's subclass that sharpens the probabilities: not the softmax the fast evaluator computes."""

        def predict_proba(self, frame):
            sharper = super().predict_proba(frame) ** 2
            return sharper / sharper.sum(axis=1, keepdims=True)

    data = load_dataset()
    names = [f["name"] for f in FEATURES]
    rows = data[names].to_dict(orient="records")
    sharpened = LoadedArtifact(LogisticRegression(max_iter=2000).fit(data[names], data[TARGET]))
    assert predictors.choose("fast", sharpened, None, {}, _schema(), rows[:12], data[names].head(12)) is sharpened


def test_fast_reads_features_in_the_order_the_model_was_fitted_on():
    from sklearn.linear_model import LogisticRegression

    data = load_dataset()
    reversed_names = [f["name"] for f in FEATURES][::-1]
    artifact = LoadedArtifact(LogisticRegression(max_iter=2000).fit(data[reversed_names], data[TARGET]))
    rows = data[reversed_names].to_dict(orient="records")
    frame = data[reversed_names]
    chosen = predictors.choose("fast", artifact, None, {}, _schema(), rows, frame)  # the schema: sl, sw, pl, pw
    assert type(chosen).__name__ == "LinearEvaluator"
    assert chosen.predict_rows(rows).labels == artifact.predict(frame).labels


def test_a_version_in_the_old_format_is_refused_with_the_way_out(config, registry):
    meta_file = registry.version_dir("v2") / "metadata.json"
    meta = json.loads(meta_file.read_text())
    del meta["format"]
    meta_file.write_text(json.dumps(meta))
    registry.sign(meta_file.parent)  # as an old version is once the registry key adopts it
    with pytest.raises(ModelwatchError, match="register the model again.*modelwatch train"):
        load_version(registry, "v2")


def test_second_version_leaves_first_untouched(config, registry):
    before = {p.name: sha256_of(p) for p in registry.version_dir("v1").iterdir()}
    assert train(config).version == "v3"  # the session fixture registered v1 and v2
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
