"""The API docs as a person sees them: Swagger UI rendered by headless Chromium."""

from __future__ import annotations

import re
from collections import Counter

import pytest

import requests

from tests.chromium import dump_dom
from tests.model_service.served import serve

pytestmark = pytest.mark.integration


def test_swagger_ui_renders_every_operation(state_dir, tmp_path):
    with serve(state_dir) as (base, _):
        dom = dump_dom(f"{base}/api/docs", tmp_path / "profile")
        served = requests.get(f"{base}/api/v1/openapi.json", timeout=10).json()  # with every model's own paths
    rendered = Counter(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    documented = Counter({path: len([m for m in item if m in ("get", "post", "put", "delete")])
                          for path, item in served["paths"].items()})
    assert "/api/v1/models/iris/versions/v1/predict" in documented  # the default model is registered like any
    assert rendered == documented, "Swagger UI did not render every documented operation"
    assert "Unable to render this definition" not in dom
