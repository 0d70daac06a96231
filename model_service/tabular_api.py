"""The API of the registered models (``modelwatch models add``), each served by
its own ModelServer (deployment, canary, reload): predict a batch, classify
one row, pinned to a version or not, and describe them with their schemas.
Every answer carries a prediction id (body, and the X-Prediction-Id header for
one row) that labels sent later are joined on (``feedback``)."""

from __future__ import annotations

import json
from time import perf_counter
from typing import Callable

import numpy as np
from flask import Request

from modelwatch.model_service.feedback import InvalidFeedback, LabelStoreUnavailable
from modelwatch.model_service.label_budget import LabelBudget, retry_after
from modelwatch.model_service.label_process import LabelProcess
from modelwatch.model_service.inputs import InputError
from modelwatch.model_service.metrics import ServiceMetrics
from modelwatch.model_service.prediction_ids import PredictionIds
from modelwatch.model_service.serving import ModelServer
from modelwatch.model_service.artifacts import Answers
from modelwatch.model_service.tabular import TabularModel, answers_of, batch_values, classify_values, documents
from modelwatch.models.baselines import bucket_indexes, bucket_matrix
from modelwatch.models.schema import SCHEMA_FILE, ModelSchema, SchemaError

FEW_ROWS = 16  # up to this many rows, numeric buckets are found in plain Python


class TabularApi:
    def __init__(self, servers: dict[str, ModelServer], metrics: ServiceMetrics | None, ids: PredictionIds,
                 max_batch: int, labels: LabelProcess | None = None, label_budget: LabelBudget | None = None):
        self.servers = servers
        self.metrics = metrics
        self.ids = ids
        self.max_batch = max_batch
        self.labels = labels
        self.label_budget = label_budget or LabelBudget(0)
        self._schemas: dict[tuple[str, str], ModelSchema] = {}  # of versions no longer loaded

    def model(self, name: str, version: str | None) -> TabularModel:
        server = self.servers[name]
        state = server.state
        if state is None:
            raise InputError(f"model {name} is not loaded: {server.last_error}", status=503, code="not_ready")
        if version is None:
            return server.choose()
        model = state.models.get(version)
        if model is None:
            raise InputError(f"unknown version {version!r} of {name}; loaded: {', '.join(state.models)}", "version",
                             status=404, code="unknown_version")
        return model

    def answer(self, model: TabularModel, rows: list[dict]) -> list[dict]:
        """Each row's answer document, with its prediction id; the prediction counted in the metrics."""
        return documents(model, *self.answer_arrays(model, rows))

    def answer_arrays(self, model: TabularModel, rows: list[dict]) -> tuple[Answers, list[str]]:
        """The model's answers as arrays and each row's prediction id (the Open Inference Protocol
        answers in tensors, without a document per row); the prediction counted in the metrics."""
        started = perf_counter()
        try:
            answers, frame = answers_of(model, rows)
        except Exception:
            if self.metrics:
                self.metrics.prediction_failed(model, len(rows))
            raise
        elapsed = perf_counter() - started
        outputs = answers.labels if answers.labels is not None else answers.values.tolist()
        ids = self.ids.issue_many(model.name, model.version, outputs)
        if self.metrics:
            self._observe(model, elapsed, rows, answers, frame)
        return answers, ids

    def _observe(self, model: TabularModel, elapsed: float, rows: list[dict], answers, frame) -> None:
        if answers.labels is not None:
            index = {c: i for i, c in enumerate(model.classes)}
            outputs = np.array([index[label] for label in answers.labels], dtype=np.float64)
            confidences = (answers.probabilities.max(axis=1) if answers.probabilities is not None
                           else np.full(len(rows), np.nan))
        else:
            outputs = bucket_indexes(model.output_edges, answers.values).astype(np.float64)
            confidences = np.full(len(rows), np.nan)
        if len(rows) <= FEW_ROWS:  # in plain Python: numpy's per-call cost would dominate
            names = model.schema.feature_names
            specs = [model.buckets[name] for name in names]
            events = []
            for row, output, confidence in zip(rows, outputs.tolist(), confidences.tolist()):
                events += (output, confidence, *[spec.event(row[name]) for name, spec in zip(names, specs)])
            self.metrics.observe_prediction(model, elapsed, len(rows), events)
            return
        names, edges = model.numeric_features
        # the model's input frame holds the numbers already (missing as NaN); the fast evaluator builds none
        if frame is None:
            values = np.array([[np.nan if row[name] is None else row[name] for name in names] for row in rows],
                              dtype=np.float64).reshape(len(rows), len(names))
        elif len(frame.columns) == len(names) and frame.columns.tolist() == list(names):  # tolist: one C call
            values = frame.to_numpy(dtype=np.float64)  # all numeric: the frame's one block as is, no column selection
        else:
            values = frame[list(names)].to_numpy(dtype=np.float64)
        # output, confidence, a bucket per feature; column by column, as the frame and bucket_matrix hold them
        events = np.empty((len(rows), 2 + len(model.schema.features)), order="F")
        events[:, 0], events[:, 1] = outputs, confidences
        numeric = events[:, model.numeric_columns]  # a view when the numeric features sit side by side
        numeric[...] = bucket_matrix(edges, values)
        numeric[np.isnan(values)] = -1.0  # a missing number: no bucket
        if not isinstance(model.numeric_columns, slice):
            events[:, model.numeric_columns] = numeric  # fancy indexing copied: write back
        for column, feature in enumerate(model.schema.features, start=2):
            if feature.kind != "numeric":
                events[:, column] = model.buckets[feature.name].categorical_events([row[feature.name] for row in rows])
        self.metrics.observe_prediction(model, elapsed, len(rows), events)

    def classify(self, name: str, version: str | None, request: Request, form, body) -> tuple[dict, dict]:
        model = self.model(name, version)
        if not model.classes:
            raise InputError(f"{name} is a regressor: use /api/v1/models/{name}/predict", status=404,
                             code="not_a_classifier")
        row = classify_values(request.args.items(multi=True), form, body, model.schema)
        answer = self.answer(model, [row])[0]
        return {**answer, "model": model.name, "model_version": model.version}, {"X-Prediction-Id": answer["prediction_id"]}

    def predict(self, name: str, version: str | None, body) -> dict:
        model = self.model(name, version)
        if body is None:
            raise InputError('send a JSON body: {"instances": [...]}', code="missing_body")
        rows = batch_values(body, model.schema, self.max_batch)
        return {"model": model.name, "model_version": model.version, "predictions": self.answer(model, rows)}

    def feedback(self, name: str, body) -> dict:
        """Join each label to the prediction its id names; answer each item's outcome."""
        if isinstance(body, dict) and "feedback" in body:
            items = body["feedback"]
        else:
            items = [body] if isinstance(body, dict) else body
        if not isinstance(items, list) or not items:
            raise InputError('send {"feedback": [{"id": "<prediction id>", "label": "<class>"}, ...]} '
                             '(a regressor\'s items: "value" instead of "label")', "feedback", code="invalid_feedback")
        if len(items) > self.max_batch:
            raise InputError(f"{len(items)} feedback items: at most {self.max_batch} a request", "feedback",
                             status=413, code="batch_too_large")
        if self.labels is None:
            raise InputError("this service keeps no record of labelled predictions", status=503,
                             code="feedback_unavailable")
        self._refuse_if_waiting(name, self.label_budget.admit(len(items)))
        try:
            taken = self.labels.take(name, items, self._label_kind(name))
        except InvalidFeedback as exc:
            if self.metrics:
                self.metrics.feedback_refused(name, len(exc.problems))
            raise InputError(str(exc), f"feedback[{exc.problems[0][0]}]", status=422, code="invalid_feedback") from None
        except LabelStoreUnavailable as exc:
            raise InputError(f"{exc}; send it again later", status=503,
                             code="feedback_unavailable") from None
        if self.metrics:
            self.metrics.feedback_received(name, taken.tally)
        return {"model": name, "accepted": taken.tally.accepted, "results": taken.answers}

    def refuse_labels_over_budget(self, name: str, before_refusing: Callable[[], object]) -> None:
        """A 429 while this worker is over its label budget, before the body is parsed: a flood's refused
        requests then cost the worker no parsing (bench/README, *a feedback flood*)."""
        wait = self.label_budget.wait()
        if wait:
            before_refusing()
        self._refuse_if_waiting(name, wait)

    def _refuse_if_waiting(self, name: str, wait: float) -> None:
        if not wait:
            return
        if self.metrics:
            self.metrics.feedback_throttled(name)
        raise InputError(f"labels arrive faster than this worker takes them ({self.label_budget.per_second:g} a "
                         f"second, feedback.max_labels_per_second): nothing of this request was taken; send it "
                         f"again in {retry_after(wait)} s", "feedback", status=429, code="feedback_throttled",
                         headers={"Retry-After": retry_after(wait)})

    def _label_kind(self, name: str):
        """What a version of ``name`` takes as a label: its classes, or None (a regressor's number)."""
        server = self.servers[name]

        def kind(version: str):
            state = server.state
            model = state.models.get(version) if state else None
            schema = model.schema if model else self._registered_schema(server, version)
            return list(schema.classes) if schema.task == "classification" else None

        return kind

    def _registered_schema(self, server: ModelServer, version: str) -> ModelSchema:
        """A version's schema from the registry (labels arrive after later deploys); KeyError if it is gone."""
        key = (server.registry.model_name, version)
        if key not in self._schemas:
            try:
                document = json.loads((server.registry.version_dir(version) / SCHEMA_FILE).read_text())
                self._schemas[key] = ModelSchema.from_dict(document)
            except (OSError, ValueError, SchemaError):
                raise KeyError(version) from None
        return self._schemas[key]

    def loaded(self) -> list[tuple[TabularModel, bool]]:
        """Every loaded version, each with whether it stands for its model's unpinned routes (the stable one)."""
        found = []
        for name, server in sorted(self.servers.items()):
            state = server.state
            for version, model in (state.models.items() if state else ()):
                found.append((model, False))
                if state.role(version) == "stable":
                    found.append((model, True))
        return found

    def describe(self) -> list[dict]:
        described = []
        for name, server in sorted(self.servers.items()):
            state = server.state
            versions = []
            for version, model in (state.models.items() if state else ()):
                role = state.role(version)
                weight = state.deployment.canary_weight
                versions.append({"version": version, "role": role, "weight": weight if role == "canary" else 1 - weight,
                                 "created": model.metadata["created"], "format": model.metadata["format"],
                                 "evaluator": type(model.artifact).__name__, "load_seconds": model.load_seconds,
                                 "quality": model.metadata.get("quality", {}),
                                 "libraries": model.metadata.get("libraries", {})})
            schema = next(iter(state.models.values())).schema.to_dict() if state else None
            described.append({"name": name, "versions": versions, "schema": schema, "last_error": server.last_error})
        return described
