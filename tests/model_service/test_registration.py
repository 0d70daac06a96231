"""Registering your own model: scikit-learn's bundled breast_cancer (binary, 30
features), wine (multiclass) and diabetes (regression), and palmerpenguins
(categorical columns, missing values), each a Pipeline saved with skops; ONNX
and LightGBM forms; and every refusal registers nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelwatch.cli import main
from modelwatch.model_service.artifacts import ArtifactError
from modelwatch.model_service.registration import RegistrationError, Request, register
from modelwatch.models.baselines import parse_data_baseline
from modelwatch.models.registry import Registry
from modelwatch.models.schema import ModelSchema, SchemaError
from tests.conftest import make_config
from tests.own_models import trusted_types

def _request(item: dict, name: str, **changes) -> Request:
    return Request(name, item["artifact"], item["reference"], item["target"], **changes)




@pytest.mark.parametrize("name, task, classes", [("cancer", "classification", 2), ("wine", "classification", 3),
                                                  ("diabetes", "regression", 0)])
def test_numeric_models_register_with_their_quality_and_baseline(models, tmp_path, name, task, classes):
    config = make_config(tmp_path)
    registered = register(config, _request(models[name], name, trusted_types=trusted_types(models[name])))
    assert registered.version == "v1" and registered.schema.task == task and len(registered.schema.classes) == classes
    folder = registered.folder
    metadata = json.loads((folder / "metadata.json").read_text())
    assert set(metadata["sha256"]) == {"model.skops", "schema.json", "data-baseline.json", "reference-sample.json"}
    assert ModelSchema.from_dict(json.loads((folder / "schema.json").read_text())) == registered.schema
    baseline = parse_data_baseline((folder / "data-baseline.json").read_text())
    assert set(baseline["features"]) == set(models[name]["test"].columns) - {models[name]["target"]}
    quality = metadata["quality"]["reference"]
    if task == "classification":
        assert 0.85 < quality["accuracy"] <= 1 and set(quality["f1"]) == set(registered.schema.classes)
        # Perfect on the reference (wine is easy): said, since live quality is compared with it.
        assert bool(registered.warnings) == (quality["accuracy"] == 1.0)
        assert set(baseline["class_mix"]) <= set(registered.schema.classes)
        assert len(metadata["probe"]["classes"]) == 12
    else:
        assert 30 < quality["mae"] < quality["rmse"] < 80
        assert "prediction" in baseline and len(metadata["probe"]["values"]) == 12
    assert Registry(config.paths.registry_dir, name).deployment().stable == "v1"


def _offset(config, name: str, version: str = "v1") -> int:
    folder = Registry(config.paths.registry_dir, name).version_dir(version)
    return parse_data_baseline((folder / "data-baseline.json").read_text())["feature_slot_offset"]


def test_models_take_the_slots_after_the_last_and_a_new_version_keeps_its_models(models, tmp_path):
    """Feature slots place each feature's series in a drift shard: registered in turn, models fill them."""
    config = make_config(tmp_path)
    for name in ("penguins", "diabetes", "penguins"):
        register(config, _request(models[name], name, trusted_types=trusted_types(models[name])))
    assert (_offset(config, "penguins"), _offset(config, "diabetes")) == (0, 6)  # six features, then ten
    assert _offset(config, "penguins", "v2") == 0  # its drift series go on in the same shards
    wine = models["wine"]  # 13 features, registered after a broken baseline: passed over, not an error
    (Registry(config.paths.registry_dir, "diabetes").version_dir("v1") / "data-baseline.json").write_text("{")
    register(config, _request(wine, "wine", trusted_types=trusted_types(wine)))
    assert _offset(config, "wine") == 6  # diabetes' slots are no longer known to be taken


def test_categorical_and_missing_inputs_from_parquet(models, tmp_path):
    config = make_config(tmp_path)
    item = models["penguins"]
    registered = register(config, Request("penguins", item["artifact"], item["parquet"], "species",
                                          trusted_types=trusted_types(item)))
    schema = registered.schema
    assert [f.kind for f in schema.features] == ["numeric"] * 4 + ["categorical"] * 2
    assert schema.feature("island").categories == ("Biscoe", "Dream", "Torgersen")
    # The pipeline imputes: every feature accepts a missing value, found by trying one.
    assert all(f.allow_missing for f in schema.features)
    baseline = json.loads((registered.folder / "data-baseline.json").read_text())
    assert baseline["features"]["island"]["buckets"] == ["Biscoe", "Dream", "Torgersen", "(other)", "(unseen)", "(missing)"]
    assert registered.quality["accuracy"] > 0.9


def test_a_model_that_refuses_missing_values_gets_a_schema_that_does_too(models, tmp_path):
    registered = register(make_config(tmp_path), _request(models["wine"], "wine", trusted_types=trusted_types(models["wine"])))
    assert not any(f.allow_missing for f in registered.schema.features)


def test_the_schema_file_overrides_and_is_checked(models, tmp_path):
    config = make_config(tmp_path)
    item = models["diabetes"]
    good = tmp_path / "schema.yaml"
    good.write_text("features:\n  age: {unit: years, minimum: -1, maximum: 1, description: standardised age}\n")
    registered = register(config, _request(item, "diabetes", schema_file=good, trusted_types=trusted_types(item)))
    age = registered.schema.feature("age")
    assert (age.unit, age.minimum, age.maximum) == ("years", -1, 1)
    for text, message in (("features:\n  height: {unit: cm}\n", "no feature named 'height'"),
                          ("features:\n  age: {colour: red}\n", "Additional properties are not allowed"),
                          ("features:\n  age: {minimum: 2, maximum: 1}\n", "minimum 2 is above maximum 1")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(SchemaError, match=message):
            register(config, _request(item, "diabetes", schema_file=bad, trusted_types=trusted_types(item)))
    assert Registry(config.paths.registry_dir, "diabetes").versions() == ["v1"]  # nothing more was written


def test_an_onnx_form_is_checked_against_the_native_model(models, tmp_path):
    from skl2onnx import to_onnx

    config = make_config(tmp_path)
    item = models["cancer"]
    sample = item["test"].drop(columns=[item["target"]]).to_numpy(dtype=np.float32)[:5]
    same = tmp_path / "cancer.onnx"
    same.write_bytes(to_onnx(item["model"], sample, options={"zipmap": False}).SerializeToString())
    registered = register(config, _request(item, "cancer", onnx=same, trusted_types=trusted_types(item)))
    assert "model.onnx" in json.loads((registered.folder / "metadata.json").read_text())["sha256"]
    other = make_pipeline(StandardScaler(), LogisticRegression(C=1e-4)).fit(
        item["test"].drop(columns=[item["target"]]), item["test"][item["target"]])
    different = tmp_path / "other.onnx"
    different.write_bytes(to_onnx(other, sample, options={"zipmap": False}).SerializeToString())
    with pytest.raises(RegistrationError, match="ONNX form"):
        register(config, _request(item, "cancer", onnx=different, trusted_types=trusted_types(item)))
    # An ONNX file alone is a model too; its classes come from the target column.
    alone = register(config, Request("cancer", same, item["reference"], item["target"]))
    assert alone.schema.classes == ("benign", "malignant") and alone.quality["accuracy"] > 0.9


def test_a_lightgbm_model_registers(models, tmp_path):
    lightgbm = pytest.importorskip("lightgbm")
    item = models["wine"]
    x = item["test"].drop(columns=[item["target"]])
    y = item["test"][item["target"]].map({"class_0": 0, "class_1": 1, "class_2": 2})
    model = lightgbm.LGBMClassifier(n_estimators=20, min_child_samples=3, verbose=-1).fit(x, y)
    path = tmp_path / "wine.lgb.txt"
    model.booster_.save_model(str(path))
    reference = tmp_path / "wine-numbers.csv"
    x.assign(cultivar=y).to_csv(reference, index=False)
    registered = register(make_config(tmp_path), Request("wine-lgb", path, reference, "cultivar"))
    assert registered.schema.classes == ("0", "1", "2") and registered.quality["accuracy"] > 0.9


def test_pickles_need_trust_and_skops_names_the_types_it_does_not_trust(models, tmp_path):
    import joblib

    config = make_config(tmp_path)
    item = models["penguins"]
    pickled = tmp_path / "penguins.joblib"
    joblib.dump(item["model"], pickled)
    with pytest.raises(ArtifactError, match="loading it runs code from the file.*--trust-pickle"):
        register(config, Request("penguins", pickled, item["reference"], "species"))
    assert register(config, Request("penguins", pickled, item["reference"], "species", trust_pickle=True)).version == "v1"
    untrusted = trusted_types(item)
    assert untrusted  # the OneHotEncoder's dtype
    with pytest.raises(ArtifactError, match="--trust-type " + untrusted[0]):
        register(config, _request(item, "penguins"))


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(columns=["bmi"]), "the reference data lacks columns the model takes: bmi"),
    (lambda f: f.assign(bmi="high"), "the model fails on the reference rows"),
])
def test_reference_data_that_does_not_fit_the_model_is_refused(models, tmp_path, change, message):
    config = make_config(tmp_path)
    item = models["diabetes"]
    broken = tmp_path / "broken.csv"
    change(item["test"]).to_csv(broken, index=False)
    with pytest.raises(RegistrationError, match=message):
        register(config, Request("diabetes", item["artifact"], broken, "progression", trusted_types=trusted_types(item)))
    assert not (config.paths.registry_dir / "diabetes").exists() or not Registry(config.paths.registry_dir,
                                                                                   "diabetes").versions()


def test_a_target_with_classes_the_model_does_not_know_is_refused(models, tmp_path):
    item = models["wine"]
    odd = tmp_path / "odd.csv"
    item["test"].assign(cultivar=["class_9"] * len(item["test"])).to_csv(odd, index=False)
    with pytest.raises(RegistrationError, match="classes the model does not know: class_9"):
        register(make_config(tmp_path), Request("wine", item["artifact"], odd, "cultivar", trusted_types=trusted_types(item)))


def test_a_version_over_the_series_budget_is_refused(models, tmp_path):
    config = make_config(tmp_path, MODEL__SERIES_BUDGET=100)
    with pytest.raises(RegistrationError, match=r"\d+ series per version and replica, above model.series_budget \(100\)"):
        register(config, _request(models["cancer"], "cancer", trusted_types=trusted_types(models["cancer"])))


def test_unreadable_files_are_one_line_errors(models, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(tmp_path))
    garbage = tmp_path / "garbage.skops"
    garbage.write_bytes(b"not a zip file")
    cases = [
        (["--artifact", str(garbage), "--reference", str(models["wine"]["reference"])], "garbage.skops could not be loaded"),
        (["--artifact", str(tmp_path / "none.onnx"), "--reference", str(models["wine"]["reference"])], "no such file"),
        (["--artifact", str(models["wine"]["artifact"]), "--reference", str(tmp_path / "none.csv")], "no such file"),
        (["--artifact", str(models["wine"]["artifact"]), "--reference", str(models["wine"]["artifact"])],
         "reference data must be CSV or Parquet"),
        (["--artifact", str(tmp_path / "model.h5"), "--reference", str(models["wine"]["reference"])],
         "unknown artifact format"),
    ]
    for arguments, message in cases:
        assert main(["models", "add", "wine", *arguments]) != 0
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and message in error[0], error
    assert not Registry.models(tmp_path / "models")


def test_list_and_remove(models, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(tmp_path))
    item = models["wine"]
    trust = [arg for t in trusted_types(item) for arg in ("--trust-type", t)]
    for _ in range(2):
        assert main(["models", "add", "wine", "--artifact", str(item["artifact"]), "--reference",
                     str(item["reference"]), "--target", "cultivar", *trust]) == 0
    assert "registered wine v2 (classification; 13 numeric and 0 categorical features" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    assert "wine: v1 (stable), v2" in capsys.readouterr().out
    assert main(["models", "remove", "wine/v1"]) == 1
    assert "wine/v1 serves as stable" in capsys.readouterr().err
    assert main(["models", "remove", "wine/v2"]) == 0
    assert Registry(tmp_path / "models", "wine").versions() == ["v1"]
    assert main(["models", "remove", "iris"]) == 1  # the service's default model: never registered here
    assert main(["models", "remove", "wine"]) == 0 and not (tmp_path / "models" / "wine").exists()


def test_a_schema_document_round_trips_and_bad_ones_are_named():
    schema = ModelSchema.from_dict({"task": "regression", "features": [
        {"name": "mean radius", "kind": "numeric", "minimum": 0}, {"name": "colour", "kind": "categorical",
                                                                   "categories": ["red"], "allow_missing": True}]})
    assert ModelSchema.from_dict(schema.to_dict()) == schema
    with pytest.raises(SchemaError, match="a classifier needs at least two classes"):
        ModelSchema.from_dict({"task": "classification", "features": [{"name": "x", "kind": "numeric"}]})
    with pytest.raises(SchemaError, match="a categorical feature has no range"):
        ModelSchema.from_dict({"task": "regression", "features": [{"name": "x", "kind": "categorical", "minimum": 1}]})
