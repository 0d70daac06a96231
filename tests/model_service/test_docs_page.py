"""The API docs as a person sees them: Swagger UI rendered by headless Chromium."""

from __future__ import annotations

import re
import subprocess
from collections import Counter

import pytest

from tests.conftest import require_binary
from tests.model_service.openapi_check import spec
from tests.model_service.served import serve

pytestmark = pytest.mark.integration
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=10000",
]


def test_swagger_ui_renders_every_operation(state_dir, tmp_path):
    chromium = require_binary("chromium")
    with serve(state_dir) as (base, _):
        dom = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", f"{base}/api/docs"],
            capture_output=True, text=True, timeout=120,
        ).stdout
    rendered = Counter(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    documented = Counter({path: len([m for m in item if m in ("get", "post", "put", "delete")])
                          for path, item in spec()["paths"].items()})
    assert rendered == documented, "Swagger UI did not render every documented operation"
    assert "Unable to render this definition" not in dom
