"""Locust users of the real model API: single classifications (GET with a query
string, POST JSON), batches, and a small share of invalid requests that must
be answered with a 4xx (counted as expected, not as failures). Inputs are
rows of the model's reference sample (or shifted well outside it, for drift):
the default model's users on the talk's routes, a named model's on its own;
the labels scenario's users send the true labels of their predictions later."""

from __future__ import annotations

import heapq
import os
import random
import time
from urllib.parse import quote

from locust import FastHttpUser, constant_throughput, task

from modelwatch.loadtests.labels import LabelPlan


class SampleRows:
    """Rows of a model's reference sample, at a steady rate per user (set by ``configure``), for any
    kind of Locust user: over HTTP here, over gRPC in grpc_users.py."""

    api_key = ""
    rate_per_user = 2.0
    model = ""
    task_kind = "classification"
    rows: list[dict] = []
    categories: dict[str, list[str]] = {}
    transform = staticmethod(lambda row, categories: row)

    def wait_time(self):
        return constant_throughput(self.rate_per_user)(self)

    def on_start(self):
        self.headers = {"X-API-Key": self.api_key}

    def row(self) -> dict:
        return self.transform(random.choice(self.rows), self.categories)


class SampleUser(SampleRows, FastHttpUser):
    abstract = True


class ModelApiUser(SampleUser):
    """A client of the default model on the talk's routes (/api/v1/classify, /api/v1/predict)."""

    abstract = True

    @task(6)
    def classify_get(self):
        params = "&".join(f"{quote(name)}={quote(str(value))}" for name, value in self.row().items() if value is not None)
        self.client.get(f"/api/v1/classify?{params}", headers=self.headers, name="/api/v1/classify [GET]")

    @task(3)
    def classify_post(self):
        self.client.post("/api/v1/classify", json=self.row(), headers=self.headers, name="/api/v1/classify [POST]")

    @task(1)
    def predict_batch(self):
        rows = [self.row() for _ in range(random.randint(5, 20))]
        self.client.post("/api/v1/predict", json={"instances": rows}, headers=self.headers, name="/api/v1/predict")

    @task(1)
    def invalid(self):
        """A request the API must refuse with a 4xx: a bad value, a missing key, an oversized batch."""
        kind = random.choice(("bad_value", "no_key", "missing_field"))
        if kind == "bad_value":
            request = dict(method="GET", path="/api/v1/classify?sl=abc&sw=1&pl=1&pw=1", headers=self.headers, expected=400)
        elif kind == "no_key":
            request = dict(method="GET", path="/api/v1/classify?sl=5&sw=3&pl=1&pw=0.2", headers={}, expected=401)
        else:
            request = dict(method="POST", path="/api/v1/classify", headers=self.headers, expected=400)
        expected = request.pop("expected")
        body = {"json": {"sl": 5.0}} if request["method"] == "POST" else {}
        with self.client.request(request["method"], request["path"], headers=request["headers"],
                                 name=f"invalid [{kind}]", catch_response=True, **body) as response:
            if response.status_code == expected:
                response.success()
            else:
                response.failure(f"expected {expected}, got {response.status_code}")


class RegisteredModelUser(SampleUser):
    """A client of a model by name: batches and single rows (classify for classifiers), and a small
    share of rows with an unknown field, which must get a 400."""

    abstract = True

    @task(6)
    def predict_batch(self):
        rows = [self.row() for _ in range(random.randint(1, 20))]
        self.client.post(f"/api/v1/models/{self.model}/predict", json={"instances": rows}, headers=self.headers,
                         name=f"/api/v1/models/{self.model}/predict")

    @task(3)
    def classify_post(self):
        if self.task_kind != "classification":
            return self.predict_batch()
        self.client.post(f"/api/v1/models/{self.model}/classify", json=self.row(), headers=self.headers,
                         name=f"/api/v1/models/{self.model}/classify [POST]")

    @task(1)
    def invalid(self):
        with self.client.post(f"/api/v1/models/{self.model}/predict", json={"instances": [{**self.row(), "?": 1}]},
                              headers=self.headers, name="invalid [unknown_field]", catch_response=True) as response:
            if response.status_code == 400:
                response.success()
            else:
                response.failure(f"expected 400, got {response.status_code}")


class LabellingUser(SampleUser):
    """Predicts batches of reference rows by model name and sends the true label (the reference's target)
    of a share of the predictions after a delay, batched: the way a labelling job would."""

    abstract = True
    targets: list = []
    plan = LabelPlan()
    started = 0.0  # when the run began (the concept-drift switch counts from it)

    def on_start(self):
        super().on_start()
        self.rng = random.Random()
        self.due: list[tuple[float, str, object]] = []  # (when, prediction id, label), soonest first

    @task
    def predict_then_label(self):
        picked = [random.randrange(len(self.rows)) for _ in range(random.randint(1, 9))]
        with self.client.post(f"/api/v1/models/{self.model}/predict", headers=self.headers, catch_response=True,
                              json={"instances": [self.transform(self.rows[i], self.categories) for i in picked]},
                              name=f"/api/v1/models/{self.model}/predict") as response:
            if response.status_code != 200:
                return response.failure(f"status {response.status_code}")
            predictions = response.json()["predictions"]
        now = time.time()
        for row, prediction in zip(picked, predictions):
            target = self.targets[row]
            if target is not None and self.rng.random() < self.plan.share:
                label = self.plan.label(target, self.targets, self.task_kind, now - self.started, self.rng)
                heapq.heappush(self.due, (now + self.plan.delay_seconds, prediction["prediction_id"], label))
        self.send_due(now)

    def send_due(self, now: float) -> None:
        items, sent = [], []
        while self.due and self.due[0][0] <= now:
            entry = heapq.heappop(self.due)
            sent.append(entry)
            _, prediction_id, label = entry
            items.append({"id": prediction_id, ("label" if self.task_kind == "classification" else "value"): label})
        if not items:
            return
        with self.client.post(f"/api/v1/models/{self.model}/feedback", json={"feedback": items}, headers=self.headers,
                              name=f"/api/v1/models/{self.model}/feedback", catch_response=True) as response:
            if response.status_code == 429:  # over the service's label budget: nothing was taken; again later
                retry = now + float(response.headers.get("Retry-After", "1"))
                for _, prediction_id, label in sent:
                    heapq.heappush(self.due, (retry, prediction_id, label))
                response.success()
            elif response.status_code != 200:
                response.failure(f"status {response.status_code}")
            elif response.json()["accepted"] != len(items):
                response.failure(f"{len(items) - response.json()['accepted']} of {len(items)} labels not accepted")


def configure(user_class: type[SampleRows], sample: dict, model: str = "") -> None:
    """Apply the run's settings (from the environment ``modelwatch load`` sets) and the model's reference
    sample (its rows, task and categories) to a user class."""
    user_class.api_key = os.environ.get("MODELWATCH_LOAD_API_KEY", "")
    user_class.rate_per_user = float(os.environ.get("MODELWATCH_LOAD_RATE_PER_USER", "2"))
    user_class.model = model
    user_class.task_kind = sample["task"]
    user_class.rows = sample["rows"]
    user_class.categories = sample["categories"]
    if issubclass(user_class, LabellingUser):
        user_class.targets = sample.get("targets") or [None] * len(sample["rows"])
        user_class.plan = LabelPlan.from_env(os.environ)
