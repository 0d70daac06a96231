"""The API docs as a person sees them: Swagger UI rendered by headless Chromium."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.chromium import dump_dom
from tests.model_service.openapi_check import spec
from tests.model_service.served import serve

pytestmark = pytest.mark.integration


def test_swagger_ui_renders_every_operation(state_dir, tmp_path):
    with serve(state_dir) as (base, _):
        dom = dump_dom(f"{base}/api/docs", tmp_path / "profile")
    rendered = Counter(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    documented = Counter({path: len([m for m in item if m in ("get", "post", "put", "delete")])
                          for path, item in spec()["paths"].items()})
    assert rendered == documented, "Swagger UI did not render every documented operation"
    assert "Unable to render this definition" not in dom
