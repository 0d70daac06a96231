"""A synthetic client: calls the model API on an interval with inputs whose
answers were recorded when each version was registered, and checks the answer,
so that availability and correctness are seen from outside, as a user sees
them — for the default model and for every registered one.

With ``exporter.probe_url`` ``grpc://host:port`` the probe asks the Open
Inference Protocol's ModelInfer over gRPC instead (one input per feature, typed
from the version's schema), as a gRPC client would; an answer with an error
status is a ``grpc_error``, an unreachable server a ``connection_error``.

The inputs are the ``probe`` rows of the deployed versions' metadata; an answer
is correct when it matches what its ``model_version`` answered at registration
(a regressor's value within a millionth). A probe that cannot read those rows
(no deployment, an unreadable version) or fails in any other way is a failed
probe, not a skipped one: the success gauge drops to 0 and the alert on it can
fire.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Iterable

import requests
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from modelwatch.core.errors import ModelwatchError
from modelwatch.models.registry import Registry
from modelwatch.models.schema import SCHEMA_FILE, ModelSchema

log = logging.getLogger(__name__)
# registry_error: the probe could not read its inputs; probe_error: anything else went wrong in the probe.
RESULTS = ("success", "wrong_answer", "http_error", "grpc_error", "connection_error", "registry_error", "probe_error")
UNREACHABLE = ("UNAVAILABLE", "DEADLINE_EXCEEDED")
LABELS = ["target", "model_name"]


class ProbeCollector:
    def __init__(self, url: str, key: str, registry: Registry, interval_seconds: float, timeout_seconds: float,
                 background: bool = True, registered: bool = True):
        self.base = url.rstrip("/")
        self.target = url
        self._key = key
        self._default = registry
        self._root = Path(registry.root)
        self._registered = registered  # also probe every other registered model
        self._interval = interval_seconds
        self._timeout = timeout_seconds
        self._session = requests.Session()
        self._grpc_target = url[len("grpc://"):] if url.startswith("grpc://") else None
        self._stub = None
        self._counts: dict[str, dict[str, int]] = {}
        self._last: dict[str, dict] = {}
        self._rows = itertools.count()
        self._background = background  # False: the caller runs probe_once() itself
        self._thread: threading.Thread | None = None

    def models(self) -> list[str]:
        names = [self._default.model_name]
        if self._registered:
            names += [n for n in Registry.models(self._root) if n != self._default.model_name]
        return names

    def _expected(self, registry: Registry) -> dict[str, tuple[list, list]]:
        """Recorded (rows, answers) per deployed version."""
        expected = {}
        for version in registry.deployment().versions:
            probe = registry.metadata(version)["probe"]
            expected[version] = (probe["rows"], probe.get("classes", probe.get("values")))
        return expected

    def probe_once(self) -> dict[str, str]:
        """One request per model; returns each model's result (one of RESULTS)."""
        return {name: self.probe_model(name) for name in self.models()}

    def probe_model(self, name: str) -> str:
        started = time.monotonic()
        registry = self._default if name == self._default.model_name else Registry(self._root, name)
        try:
            expected = self._expected(registry)
            rows, _ = expected[registry.deployment().stable]
            index = next(self._rows) % len(rows)
            row = rows[index]
        except (ModelwatchError, OSError, LookupError, TypeError, ValueError, ZeroDivisionError) as exc:
            log.warning("probe of %s: cannot read the probe rows from the registry: %s", name, exc)
            return self._record(name, "registry_error", started)
        if self._grpc_target:
            return self._record(name, self._probe_grpc(registry, name, row, expected), started)
        try:
            if registry is self._default:
                response = self._session.get(f"{self.base}/api/v1/classify", params=row,
                                             timeout=self._timeout, headers={"X-API-Key": self._key})
            else:
                response = self._session.post(f"{self.base}/api/v1/models/{name}/predict", json={"instances": [row]},
                                              timeout=self._timeout, headers={"X-API-Key": self._key})
            if response.status_code != 200:
                result = "http_error"
            else:
                result = "success" if self._correct(response.json(), expected, row) else "wrong_answer"
        except (requests.RequestException, ValueError):
            result = "connection_error"
        return self._record(name, result, started)

    def _probe_grpc(self, registry: Registry, name: str, row: dict, expected: dict) -> str:
        import grpc

        from modelwatch.protocol import open_inference_grpc_pb2 as pb
        from modelwatch.protocol import open_inference_grpc_pb2_grpc as pb_grpc

        if self._stub is None:
            self._stub = pb_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(self._grpc_target))
        schema = ModelSchema.from_dict(json.loads(
            (registry.version_dir(registry.deployment().stable) / SCHEMA_FILE).read_text()))
        request = pb.ModelInferRequest(model_name=name)
        for feature in schema.features:
            value = row.get(feature.name)
            tensor = request.inputs.add(name=feature.name, shape=[1, 1])
            if feature.kind == "categorical" and value is not None:
                tensor.datatype = "BYTES"
                tensor.contents.bytes_contents.append(str(value).encode())
            elif feature.kind == "categorical":
                request.inputs.pop()  # an absent input is a missing value (BYTES has no null)
            else:
                tensor.datatype = "FP64"
                tensor.contents.fp64_contents.append(math.nan if value is None else float(value))
        try:
            answer = self._stub.ModelInfer(request, metadata=(("x-api-key", self._key),), timeout=self._timeout)
        except grpc.RpcError as exc:
            return "connection_error" if exc.code().name in UNREACHABLE else "grpc_error"
        predicted = next(o for o in answer.outputs if o.name == "predict")
        found = ({"class": predicted.contents.bytes_contents[0].decode()} if predicted.datatype == "BYTES"
                 else {"value": predicted.contents.fp64_contents[0]})
        return "success" if self._correct({"model_version": answer.model_version, "predictions": [found]},
                                          expected, row) else "wrong_answer"

    @staticmethod
    def _correct(body: dict, expected: dict, row) -> bool:
        rows, answers = expected.get(body.get("model_version"), ([], []))
        recorded = dict(zip((repr(r) for r in rows), answers)).get(repr(row))
        if "species" in body:  # the default model's classify answer
            return recorded == body["species"]
        answer = (body.get("predictions") or [{}])[0]
        if "class" in answer:
            return recorded == answer["class"]
        value = answer.get("value")
        return isinstance(value, (int, float)) and recorded is not None and math.isclose(value, recorded, rel_tol=1e-6,
                                                                                          abs_tol=1e-9)

    def _record(self, name: str, result: str, started: float) -> str:
        counts = self._counts.setdefault(name, dict.fromkeys(RESULTS, 0))
        counts[result] += 1
        self._last[name] = {"result": result, "duration": time.monotonic() - started, "at": time.time()}
        return result

    def _loop(self) -> None:
        while True:
            for name in self._models_or_default():
                started = time.monotonic()
                try:
                    self.probe_model(name)
                except Exception:  # a bug, not a finding: logged, and the probe shows as failing
                    log.exception("probe of %s: unexpected failure", name)
                    self._record(name, "probe_error", started)
            time.sleep(self._interval)

    def _models_or_default(self) -> list[str]:
        try:
            return self.models()
        except OSError as exc:  # the registry folder itself is unreadable: the default model's probe says so
            log.warning("probe: cannot list the registered models: %s", exc)
            return [self._default.model_name]

    def collect(self) -> Iterable:
        if self._background and self._thread is None:  # probing starts with the first scrape
            self._thread = threading.Thread(target=self._loop, name="probe", daemon=True)
            self._thread.start()
        success = GaugeMetricFamily("modelwatch_probe_success", "1 if the last probe got an answer (HTTP 200).",
                                    labels=LABELS)
        correct = GaugeMetricFamily("modelwatch_probe_answer_correct",
                                    "1 if the last probe's answer matched the answer recorded at registration.",
                                    labels=LABELS)
        duration = GaugeMetricFamily("modelwatch_probe_duration_seconds", "Duration of the last probe.", labels=LABELS)
        last = GaugeMetricFamily("modelwatch_probe_last_run_timestamp_seconds", "When the last probe ran (Unix time).",
                                 labels=LABELS)
        runs = CounterMetricFamily("modelwatch_probe_requests", "Probes by result.", labels=[*LABELS, "result"])
        for name, state in sorted(self._last.items()):
            labels = [self.target, name]
            success.add_metric(labels, 1.0 if state["result"] in ("success", "wrong_answer") else 0.0)
            correct.add_metric(labels, 1.0 if state["result"] == "success" else 0.0)
            duration.add_metric(labels, state["duration"])
            last.add_metric(labels, state["at"])
        for name, counts in sorted(self._counts.items()):
            for result, count in counts.items():
                runs.add_metric([self.target, name, result], count)
        return [success, correct, duration, last, runs]
