"""Registering a user's model: ``modelwatch models add``.

Everything is checked before anything is written, and each refusal is one line
that registers nothing: an unreadable or untrusted artifact, reference columns
that do not match what the model takes, a model that fails on reference rows or
gives non-finite answers, an ONNX form that disagrees with the native model, a
target with classes the model does not know, a schema file that does not fit, a
version whose series would exceed the configured budget.

A version stores (atomically, in its own folder): the artifact (and its ONNX
form when given), the schema, the data baseline, probe rows with the answers
recorded for them, the quality on the reference (with a target), the library
versions, and the sha256 of every file.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError
from modelwatch.model_service import libraries
from modelwatch.model_service.artifacts import Answers, format_of, load_artifact
from modelwatch.model_service.reference import as_model_input, data_baseline, infer_schema, read_reference
from modelwatch.core.files import write_json_atomically
from modelwatch.models.registry import (DATA_BASELINE_FILE, METADATA_FILE, ONNX_FILE, REFERENCE_SAMPLE_FILE, Deployment,
                                        Registry, sha256_of)
from modelwatch.core.series import (ABSOLUTE_ERROR_BUCKETS, LABEL_DELAY_BUCKETS, SIGNED_ERROR_BUCKETS, feature_slots,
                                    least_crowded_offset, slot_offset)
from modelwatch.models.schema import SCHEMA_FILE, TASKS, ModelSchema, apply_overrides

SAMPLE_ROWS = 200  # reference rows the model must answer before anything is written
LOAD_SAMPLE_ROWS = 1000  # reference rows kept for the load tests
PROBE_ROWS = 12  # rows whose answers every load and the synthetic probe re-check
ONNX_TOLERANCE = 1e-4  # largest difference in a probability between the native and ONNX forms


class RegistrationError(ModelwatchError):
    pass


@dataclass(frozen=True)
class Request:
    name: str
    artifact: Path
    reference: Path
    target: str | None = None
    task: str | None = None
    schema_file: Path | None = None
    version: str | None = None
    onnx: Path | None = None  # the same model in ONNX form, checked against the native one
    trust_pickle: bool = False
    trusted_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    folder: Path
    schema: ModelSchema
    quality: dict
    series: int
    warnings: tuple[str, ...]


def series_per_version(schema: ModelSchema, baseline: dict) -> int:
    """The model series one replica exposes for one version: a counter per feature bucket,
    a missing counter per feature, one per class (or prediction bucket), the version's
    fixed series (predictions, errors, inference time and confidence histograms, info), and
    its label series (a confusion matrix, or error histograms; feedback outcomes, label delay)."""
    buckets = sum(len(spec["buckets"]) for spec in baseline["features"].values())
    outputs = len(schema.classes) if schema.task == "classification" else len(baseline["prediction"]["buckets"])
    fixed = 40  # two histograms of about 15 series each, and a handful of counters and gauges
    if schema.task == "classification":
        quality = len(schema.classes) ** 2 + len(schema.classes)  # the matrix and its diagonal
    else:  # two error histograms (buckets, +Inf, count; the absolute one a sum) and the squared-error sum
        quality = len(ABSOLUTE_ERROR_BUCKETS) + len(SIGNED_ERROR_BUCKETS) + 6
    labels = 3 + len(LABEL_DELAY_BUCKETS) + 3  # feedback outcomes, the delay histogram
    return buckets + len(schema.features) + outputs + fixed + quality + labels


def _task(request: Request, artifact, frame) -> str:
    if request.task:
        if request.task not in TASKS:
            raise RegistrationError(f"--task must be classification or regression, not {request.task!r}")
        return request.task
    if artifact.classes:
        return "classification"
    if request.target and not pd.api.types.is_numeric_dtype(frame[request.target]):
        return "classification"
    if artifact.format == "onnx":
        raise RegistrationError("say --task classification or --task regression: an ONNX file does not tell")
    return "regression"


def _features(request: Request, artifact, frame) -> tuple[str, ...]:
    names = artifact.feature_names or tuple(c for c in frame.columns if c != request.target)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise RegistrationError(f"the reference data lacks columns the model takes: {', '.join(missing[:10])}"
                                f"{' ...' if len(missing) > 10 else ''} (it has {', '.join(map(str, frame.columns[:10]))})")
    if request.target in names:
        raise RegistrationError(f"the target column {request.target!r} is one of the model's features")
    return tuple(names)


def _classes(request: Request, artifact, frame, task: str) -> tuple[str, ...]:
    if task == "regression":
        return ()
    if artifact.classes:
        return artifact.classes
    if request.target is None:
        raise RegistrationError("an ONNX classifier needs --target: its classes are read from the reference data")
    return tuple(sorted({str(v) for v in frame[request.target].dropna()}))


def _answers(model, sample, what: str) -> Answers:
    try:
        answers = model.predict(sample)
    except Exception as exc:
        raise RegistrationError(f"the {what} fails on the reference rows: {type(exc).__name__}: {str(exc)[:200]}") from None
    numbers = answers.probabilities if answers.probabilities is not None else answers.values
    if numbers is not None and not np.all(np.isfinite(numbers)):
        raise RegistrationError(f"the {what} gives non-finite answers on the reference rows")
    return answers


def _missing_handled(model, schema: ModelSchema, row) -> ModelSchema:
    """Features the reference never leaves empty accept a missing value when the model answers
    one finitely (a pipeline with an imputer does): tried one feature at a time on one row."""
    features = []
    for feature in schema.features:
        if not feature.allow_missing:
            trial = row.copy()
            trial[feature.name] = np.nan if feature.kind == "numeric" else None
            try:
                answers = model.predict(trial)
                numbers = answers.probabilities if answers.probabilities is not None else answers.values
                handled = numbers is None or bool(np.all(np.isfinite(numbers)))
            except Exception:  # the model refuses a missing value: the API will too
                handled = False
            feature = replace(feature, allow_missing=handled)
        features.append(feature)
    return replace(schema, features=tuple(features))


def _agree(native: Answers, onnx: Answers) -> None:
    if native.labels is not None:
        differing = sum(a != b for a, b in zip(native.labels, onnx.labels))
        if differing:
            raise RegistrationError(f"the ONNX form disagrees with the native model on {differing} of "
                                    f"{len(native.labels)} reference rows")
        if native.probabilities is not None and onnx.probabilities is not None:
            gap = float(np.max(np.abs(native.probabilities - onnx.probabilities)))
            if gap > ONNX_TOLERANCE:
                raise RegistrationError(f"the ONNX form's probabilities differ from the native model's by up to {gap:.2g}")
    elif not np.allclose(native.values, onnx.values, rtol=1e-4, atol=1e-4):
        gap = float(np.max(np.abs(native.values - onnx.values)))
        raise RegistrationError(f"the ONNX form's predictions differ from the native model's by up to {gap:.2g}")


def _quality(schema: ModelSchema, truth, answers: Answers) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error

    if schema.task == "classification":
        labels = [str(v) for v in truth]
        per_class = f1_score(labels, answers.labels, labels=list(schema.classes), average=None, zero_division=0)
        return {"accuracy": round(float(accuracy_score(labels, answers.labels)), 6),
                "f1_macro": round(float(np.mean(per_class)), 6),
                "f1": {c: round(float(s), 6) for c, s in zip(schema.classes, per_class)},
                "rows": len(labels)}
    values = np.asarray(truth, dtype=np.float64)
    return {"mae": round(float(mean_absolute_error(values, answers.values)), 6),
            "rmse": round(float(math.sqrt(mean_squared_error(values, answers.values))), 6),
            "rows": int(len(values))}


def _records(frame) -> list[dict]:
    """Rows as JSON objects, missing values as null."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def _probe(model_input, answers: Answers, rows: int) -> dict:
    records = _records(model_input.head(rows))
    if answers.labels is not None:
        return {"rows": records, "classes": answers.labels[:rows]}
    return {"rows": records, "values": [round(float(v), 9) for v in answers.values[:rows]]}


def _load_sample(model_input, schema: ModelSchema, truth=None) -> dict:
    """Rows for the load tests; with a target, each row's true answer too (the labels scenario sends them)."""
    sampled = model_input.sample(min(LOAD_SAMPLE_ROWS, len(model_input)), random_state=0)
    sample = {"task": schema.task, "rows": _records(sampled),
              "categories": {f.name: list(f.categories) for f in schema.features if f.kind == "categorical"}}
    if truth is not None:
        kept = truth.loc[sampled.index]
        sample["targets"] = [None if pd.isna(v) else (str(v) if schema.task == "classification" else float(v))
                             for v in kept]
    return sample


def _slot_offset(config: Config, registry: Registry, width: int) -> int:
    """A new version keeps its model's feature slots (its drift series go on in the same shards); a new
    model takes the least crowded slots the other models leave. Another model's baseline that cannot
    be read, or two models registered at once taking the same slots, only costs balance (the series
    are right either way), so neither is an error."""
    def stored(model: Registry, version: str) -> dict:
        return json.loads((model.version_dir(version) / DATA_BASELINE_FILE).read_text())

    versions = registry.versions()
    if versions:
        try:
            return slot_offset(registry.model_name, stored(registry, versions[-1]).get("feature_slot_offset"))
        except (OSError, ValueError):
            return slot_offset(registry.model_name)
    occupied: list[int] = []
    for name in Registry.models(config.paths.registry_dir):
        other = Registry(config.paths.registry_dir, name)
        newest = other.versions()[-1:]
        if name == registry.model_name or not newest:
            continue
        try:
            baseline = stored(other, newest[0])
            occupied += map(int, feature_slots(name, baseline["features"], baseline.get("feature_slot_offset")).values())
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return least_crowded_offset(occupied, width)


def register(config: Config, request: Request) -> Registered:
    """Check everything, then write the new version; raises RegistrationError (one line) otherwise."""
    registry = Registry(config.paths.registry_dir, request.name, config.paths.registry_key_file)
    if not registry.name_is_valid():
        raise RegistrationError(f"invalid model name {request.name!r}: letters, digits, '.', '_' or '-', 64 at most")
    artifact = load_artifact(request.artifact, request.trusted_types, request.trust_pickle)
    frame = read_reference(request.reference)
    if request.target is not None and request.target not in frame.columns:
        raise RegistrationError(f"the reference data has no target column {request.target!r}")
    task = _task(request, artifact, frame)
    names = _features(request, artifact, frame)
    classes = _classes(request, artifact, frame, task)
    if artifact.format == "onnx" and classes:
        artifact.with_classes(classes)
    inferred = infer_schema(frame, names, task, request.target, classes)
    schema = _missing_handled(artifact, inferred, as_model_input(frame.head(1), inferred))
    if request.schema_file is not None:
        try:
            overrides = yaml.safe_load(Path(request.schema_file).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise RegistrationError(f"{request.schema_file}: cannot read it: {str(exc).splitlines()[0]}") from None
        schema = apply_overrides(schema, overrides, str(request.schema_file))
    problems = schema.problems()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RegistrationError(problems[0] + more)
    if request.target is not None and task == "classification":
        unknown = sorted({str(v) for v in frame[request.target].dropna()} - set(classes))
        if unknown:
            raise RegistrationError(f"the target column has classes the model does not know: {', '.join(unknown[:10])}")

    model_input = as_model_input(frame, schema)
    sample = model_input.head(SAMPLE_ROWS)
    native = _answers(artifact, sample, "model")
    if request.onnx is not None:
        onnx = load_artifact(request.onnx)
        if classes:
            onnx.with_classes(classes)
        _agree(native, _answers(onnx, sample, "ONNX form"))
    answers = _answers(artifact, model_input, "model")
    baseline = data_baseline(frame, schema, answers, config.model.feature_buckets, config.model.top_categories)
    baseline["feature_slot_offset"] = _slot_offset(config, registry, len(baseline["features"]))
    series = series_per_version(schema, baseline)
    if series > config.model.series_budget:
        raise RegistrationError(f"{series} series per version and replica, above model.series_budget "
                                f"({config.model.series_budget}): fewer features, model.feature_buckets or "
                                "model.top_categories, or a larger budget")
    warnings = []
    quality = {}
    if request.target is not None:
        present = frame[request.target].notna().to_numpy()
        kept = Answers([l for l, p in zip(answers.labels, present) if p] if answers.labels else None, None,
                       answers.values[present] if answers.values is not None else None)
        quality = _quality(schema, frame[request.target][present], kept)
        if quality.get("accuracy") == 1.0 or quality.get("rmse") == 0.0:
            warnings.append("the model is perfect on the reference data: is it the data the model was fitted on? "
                            "Live quality is compared with this figure, so the reference should be held out")

    version = request.version or registry.next_version()
    staging = registry.staging_dir()
    try:
        artifact_file = "model" + format_of(request.artifact)
        shutil.copyfile(request.artifact, staging / artifact_file)
        files = [artifact_file]
        if request.onnx is not None:
            shutil.copyfile(request.onnx, staging / ONNX_FILE)
            files.append(ONNX_FILE)
        write_json_atomically(staging / SCHEMA_FILE, schema.to_dict())
        write_json_atomically(staging / DATA_BASELINE_FILE, baseline)
        write_json_atomically(staging / REFERENCE_SAMPLE_FILE, _load_sample(
            model_input, schema, frame[request.target] if request.target is not None else None))
        files += [SCHEMA_FILE, DATA_BASELINE_FILE, REFERENCE_SAMPLE_FILE]
        metadata = {
            "name": request.name,
            "version": version,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "format": artifact.format,
            "algorithm": type(getattr(artifact, "model", artifact)).__name__.lstrip("_"),
            "artifact": artifact_file,
            "portable": {"format": "onnx", "file": ONNX_FILE} if request.onnx is not None else None,
            "trusted": {"pickle": request.trust_pickle, "types": list(request.trusted_types)},
            "task": task,
            "features": [{"name": f.name, "kind": f.kind, "unit": f.unit, "description": f.description}
                         for f in schema.features],
            "classes": list(classes),
            "quality": {"reference": quality} if quality else {},
            "rows": {"reference": int(len(frame))},
            "series_per_replica": series,
            "libraries": dict(libraries.running()),
            "probe": _probe(model_input, answers, PROBE_ROWS),
            "sha256": {name: sha256_of(staging / name) for name in files},
        }
        write_json_atomically(staging / METADATA_FILE, metadata)
        try:
            adopted = registry.sign(staging)
        except OSError as exc:
            raise RegistrationError(f"cannot keep the registry key in {registry.key_file}: {exc.strerror}") from None
        folder = registry.commit(staging, version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if adopted:
        warnings.append(f"made the registry key {registry.key_file} and signed the {len(adopted)} version(s) "
                        f"registered before it: {', '.join(adopted)}")
    if not registry.deployment_file.exists():
        registry.set_deployment(Deployment(stable=version))  # the first version serves
    return Registered(request.name, version, folder, schema, quality, series, tuple(warnings))
