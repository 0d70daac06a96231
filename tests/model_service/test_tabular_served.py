"""A registered model served for real (gunicorn, two workers, multiprocess
metrics): answers, ids every worker signs with the one shared key, and its
series on the shared /metrics."""

from __future__ import annotations

import stat

import pytest
import requests

from modelwatch.core.secret_keys import load_or_create_key
from modelwatch.model_service.prediction_ids import PredictionIds
from modelwatch.model_service.registration import Request, register
from tests.conftest import make_config
from tests.model_service.served import serve
from tests.model_service.test_tabular_api import PENGUIN
from tests.own_models import registered_slots, trusted_types
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def test_a_registered_model_under_gunicorn(state_dir, keys, models):
    config = make_config(state_dir)
    item = models["penguins"]
    register(config, Request("penguins", item["artifact"], item["reference"], "species",
                             trusted_types=trusted_types(item)))
    with serve(state_dir, workers=2) as (base, _):
        headers = {"X-API-Key": keys["user"], "Connection": "close"}  # new connections: both workers answer
        ids = []
        for _ in range(20):
            answer = requests.post(f"{base}/api/v1/models/penguins/predict", headers=headers,
                                   json={"instances": [PENGUIN, {**PENGUIN, "island": "Atlantis"}]}, timeout=10)
            assert answer.status_code == 200, answer.text
            ids += [p["prediction_id"] for p in answer.json()["predictions"]]
        key_file = config.paths.prediction_id_key_file
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        verifier = PredictionIds(load_or_create_key(key_file))
        assert {verifier.read(i).model for i in ids} == {"penguins"}

        def scraped():
            text = requests.get(f"{base}/metrics", timeout=10).text
            slot = registered_slots(config.paths.registry_dir, "penguins")["island"]
            unseen = f'model_input_feature_bucket_total{{bucket="(unseen)",feature="island",feature_slot="{slot}",' \
                     'model_name="penguins",model_version="v1"} 20.0'
            return text if unseen in text else None

        text = wait_until(scraped, 30, lambda: "the unseen islands were not counted on /metrics")
        assert 'model_predictions_total{model_name="penguins",model_version="v1",outcome="success"} 40.0' in text
        assert 'model_info{' in text and 'model_name="penguins"' in text
