"""Reference data: read from CSV or Parquet, turned into the model's inferred
schema, its data baseline and its quality on the reference rows.

The reference is what live traffic is compared against, and — with a target
column — what live quality is compared against; so it should be held-out data,
not the rows the model was fitted on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from modelwatch.core.errors import ModelwatchError
from modelwatch.models.baselines import categorical_baseline, class_mix, numeric_baseline
from modelwatch.models.schema import Feature, ModelSchema

READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet}


class ReferenceError(ModelwatchError):
    pass


def read_reference(path: Path) -> pd.DataFrame:
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ReferenceError(f"{path.name}: reference data must be CSV or Parquet ({', '.join(READERS)})")
    try:
        frame = reader(path)
    except FileNotFoundError:
        raise ReferenceError(f"{path}: no such file") from None
    except Exception as exc:  # a file pandas or pyarrow cannot parse
        raise ReferenceError(f"{path.name} could not be read: {type(exc).__name__}: {str(exc)[:200]}") from None
    if frame.empty:
        raise ReferenceError(f"{path.name} holds no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def infer_schema(frame: pd.DataFrame, feature_names: Sequence[str], task: str, target: str | None,
                 classes: Sequence[str]) -> ModelSchema:
    """Numeric columns are numeric features, anything else categorical; a column with missing
    values in the reference allows them."""
    features = []
    for name in feature_names:
        column = frame[name]
        missing = bool(column.isna().any())
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            features.append(Feature(name, "numeric", allow_missing=missing))
        else:
            known = sorted({str(v) for v in column.dropna()})
            features.append(Feature(name, "categorical", categories=tuple(known), allow_missing=missing))
    return ModelSchema(task, tuple(features), target, tuple(classes))


def as_model_input(frame: pd.DataFrame, schema: ModelSchema) -> pd.DataFrame:
    """The columns the model takes, in its order and with the schema's types (numbers as floats,
    categories as strings, missing as NaN / None)."""
    columns = {}
    for feature in schema.features:
        column = frame[feature.name]
        if feature.kind == "numeric":
            columns[feature.name] = pd.to_numeric(column, errors="coerce").astype(np.float64)
        else:
            # object dtype holding str or None: what pipelines' encoders and imputers expect
            columns[feature.name] = pd.Series([None if pd.isna(v) else str(v) for v in column],
                                              index=frame.index, dtype=object)
    return pd.DataFrame(columns, index=frame.index)


def data_baseline(frame: pd.DataFrame, schema: ModelSchema, predictions, buckets: int, top_k: int) -> dict:
    """Per feature its reference distribution and missing share; the predicted class mix
    (classifiers) or the distribution of the predicted values (regressors)."""
    model_input = as_model_input(frame, schema)
    features = {}
    for feature in schema.features:
        column = model_input[feature.name]
        try:
            features[feature.name] = (numeric_baseline(column.to_numpy(), buckets) if feature.kind == "numeric"
                                      else categorical_baseline(list(column), top_k))
        except ValueError:
            raise ReferenceError(f"feature {feature.name}: no value present in the reference data") from None
    document = {"rows": int(len(frame)), "features": features}
    if schema.task == "classification":
        document["class_mix"] = class_mix(predictions.labels)
    else:
        document["prediction"] = numeric_baseline(predictions.values, buckets)
    return document
