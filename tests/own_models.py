"""Four fitted pipelines of the kinds users bring, with held-out reference data:
scikit-learn's bundled breast_cancer (binary, 30 features), wine (multiclass)
and diabetes (regression), and palmerpenguins (categorical columns, missing
values), each saved with skops; no download."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import skops.io
from palmerpenguins import load_penguins
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

PENGUIN_NUMBERS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
PENGUIN_CATEGORIES = ["island", "sex"]


def _held_out(frame: pd.DataFrame, target: str):
    train, test = train_test_split(frame, random_state=0, test_size=0.3)
    return train.drop(columns=[target]), train[target], test


def make_models(folder: Path) -> dict[str, dict]:
    """name -> the fitted model, its artifact, reference (CSV; penguins also Parquet) and target."""
    made = {}
    for name, loader, target in (("cancer", load_breast_cancer, "malignant"), ("wine", load_wine, "cultivar")):
        data = loader(as_frame=True)
        frame = data.frame.rename(columns={"target": target})
        frame[target] = [str(data.target_names[t]) for t in frame[target]]
        x, y, test = _held_out(frame, target)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)
        made[name] = {"model": model, "target": target, "test": test}
    diabetes = load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"})
    x, y, test = _held_out(diabetes, "progression")
    made["diabetes"] = {"model": Ridge().fit(x, y), "target": "progression", "test": test}
    penguins = load_penguins().dropna(subset=["species"])[[*PENGUIN_NUMBERS, *PENGUIN_CATEGORIES, "species"]]
    x, y, test = _held_out(penguins, "species")
    prepare = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), PENGUIN_NUMBERS),
        ("categories", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         PENGUIN_CATEGORIES),
    ])
    made["penguins"] = {"model": make_pipeline(prepare, LogisticRegression(max_iter=2000)).fit(x, y),
                        "target": "species", "test": test}
    for name, item in made.items():
        item["artifact"] = folder / f"{name}.skops"
        skops.io.dump(item["model"], item["artifact"])
        item["reference"] = folder / f"{name}.csv"
        item["test"].to_csv(item["reference"], index=False)
    made["penguins"]["parquet"] = folder / "penguins.parquet"
    made["penguins"]["test"].to_parquet(made["penguins"]["parquet"])
    return made


def register_all(config, models: dict[str, dict], names, versions: int = 1) -> None:
    """Register each named test model ``versions`` times (v1, v2, …: the same model) in the config's registry."""
    from modelwatch.model_service.registration import Request, register

    for name in names:
        item = models[name]
        for _ in range(versions):
            register(config, Request(name, item["artifact"], item["reference"], item["target"],
                                     trusted_types=trusted_types(item)))


def request_rows(item: dict, frame: pd.DataFrame | None = None) -> list[dict]:
    """The held-out rows (or ``frame``) without the target, as JSON instances: missing values as null."""
    frame = item["test"].drop(columns=[item["target"]]) if frame is None else frame
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def trusted_types(item: dict) -> tuple[str, ...]:
    """The types a test trusts in its own skops files (the OneHotEncoder's dtype)."""
    return tuple(skops.io.get_untrusted_types(file=item["artifact"]))


def registered_slots(registry_dir: Path, name: str, version: str = "v1") -> dict[str, str]:
    """The feature slots registration gave a version (its data baseline's offset)."""
    import json

    from modelwatch.core.series import feature_slots
    from modelwatch.models.registry import DATA_BASELINE_FILE

    baseline = json.loads((Path(registry_dir) / name / version / DATA_BASELINE_FILE).read_text())
    return feature_slots(name, baseline["features"], baseline["feature_slot_offset"])
