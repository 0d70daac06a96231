"""MLServer's own client code against the real service: rows encoded with its
``PandasCodec`` (the tabular ``pd`` convention), sent over OIP REST as its
pydantic types and over OIP gRPC with its own generated stubs and converters,
answers decoded with its codecs. They equal the native API's on the same rows.

MLServer runs in a virtual environment of its own (``requirements/mlserver.lock``,
made on first use by bench.competitors.ensure_venv; ``$MODELWATCH_VENVS`` keeps it
between runs): its pins do not fit modelwatch's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests

from bench.competitors import ensure_venv
from tests.model_service.served import free_port, serve
from tests.own_models import PENGUIN_CATEGORIES, register_all, request_rows

pytestmark = pytest.mark.integration
CLIENT = Path(__file__).with_name("mlserver_client.py")


@pytest.fixture(scope="module")
def mlserver_python() -> Path:
    return ensure_venv("mlserver")


def test_mlservers_codecs_and_stubs_get_the_native_answers(mlserver_python, state_dir, keys, models):
    from modelwatch.core.config import load_config

    register_all(load_config(env={"MODELWATCH_PATHS__STATE_DIR": str(state_dir)}), models, ("penguins",))
    # MLServer's codec cannot encode a missing string (it calls isnan on it): categories present;
    # a missing number goes as null, as its codec writes NaN
    rows = [row for row in request_rows(models["penguins"]) if all(row[c] is not None for c in PENGUIN_CATEGORIES)]
    rows = rows[:12]
    rows[3] = {**rows[3], "bill_depth_mm": None}
    grpc_port = free_port()
    with serve(state_dir, workers=2, grpc_port=grpc_port) as (base, _):
        headers = {"X-API-Key": keys["user"]}
        native = requests.post(f"{base}/api/v1/models/penguins/predict", json={"instances": rows}, headers=headers,
                               timeout=30).json()["predictions"]
        classes = requests.get(f"{base}/v2/models/penguins", headers=headers, timeout=30).json()["parameters"]["classes"]
        job = {"rest": base, "grpc": f"127.0.0.1:{grpc_port}", "key": keys["user"], "model": "penguins",
               "rows": rows, "categorical": PENGUIN_CATEGORIES}
        ran = subprocess.run([str(mlserver_python), str(CLIENT)], input=json.dumps(job), capture_output=True,
                             text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr[-3000:]
        answers = json.loads(ran.stdout)
        assert answers["grpc"]["rows"] == [i for i in range(len(rows)) if i != 3]  # all numbers there
        for protocol in ("rest", "grpc"):
            answer = answers[protocol]
            expected = [native[i] for i in answer.get("rows", range(len(rows)))]
            assert answer["id"] == "mlserver-codecs", protocol
            assert answer["predict"] == [p["class"] for p in expected], protocol
            assert np.array(answer["predict_proba"]) == pytest.approx(
                np.array([[p["probabilities"][c] for c in classes] for p in expected]))
            assert len(set(answer["prediction_id"])) == len(expected)

        # and what MLServer's client sends wrong is refused the same way over both
        job["rows"] = [{**row, "island": 3.5} for row in rows[:2]]
        job["categorical"] = ["sex"]  # the island column then goes as FP64
        refused = subprocess.run([str(mlserver_python), str(CLIENT)], input=json.dumps(job), capture_output=True,
                                 text=True, timeout=120)
        assert refused.returncode == 0, refused.stderr[-3000:]
        answers = json.loads(refused.stdout)
        assert answers["rest"] == {"status": 400, "body": {"error": "inputs[4]: island is a category: send it as "
                                                                    "BYTES, not FP64"}}
        assert answers["grpc"] == {"status": "INVALID_ARGUMENT", "body": answers["rest"]["body"]["error"]}
