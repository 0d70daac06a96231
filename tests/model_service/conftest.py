"""Fixtures the Open Inference Protocol's tests share, over REST (test_oip.py) and gRPC (test_oip_grpc.py)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from modelwatch.model_service.app import create_app
from tests.own_models import register_all


@pytest.fixture
def served(config, keys, models):
    """(app, test client, key headers, metrics registry) with the penguins classifier and the diabetes
    regressor registered twice each beside the default model."""
    register_all(config, models, ("penguins", "diabetes"), versions=2)
    metrics = CollectorRegistry()
    app = create_app(config, registry=metrics, watch=False)
    app.testing = True
    return app, app.test_client(), {"X-API-Key": keys["user"]}, metrics
