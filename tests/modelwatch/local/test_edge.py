"""The edge's HAProxy configuration, checked by HAProxy itself (``haproxy -c``)."""

from __future__ import annotations

import subprocess

import pytest

from modelwatch.core.config import ConfigError, load_config
from modelwatch.local.edge import haproxy_config
from tests.conftest import require_binary


@pytest.mark.parametrize("env", [{}, {"MODELWATCH_SERVICE__HOST": "::1", "MODELWATCH_EDGE__REQUEST_TIMEOUT_SECONDS": "0.25",
                                      "MODELWATCH_SERVICE__MAX_BODY_BYTES": "4096"}])
def test_haproxy_accepts_the_configuration_and_it_says_what_the_settings_say(tmp_path, env):
    haproxy = require_binary("haproxy")
    config = load_config(env=env)
    text = haproxy_config(config, tmp_path / "service.sock")
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    check = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"timeout http-request {round(config.edge.request_timeout_seconds * 1000)}ms" in text
    assert f"gt {config.service.max_body_bytes} }}" in text
    assert f"server gunicorn unix@{tmp_path / 'service.sock'}" in text
    host = f"[{config.service.host}]" if ":" in config.service.host else config.service.host
    assert f"bind {host}:{config.service.port}" in text and f"bind {host}:{config.edge.metrics_port}" in text


def test_edge_settings_are_checked():
    with pytest.raises(ConfigError) as error:
        load_config(env={"MODELWATCH_EDGE__REQUEST_TIMEOUT_SECONDS": "0", "MODELWATCH_EDGE__METRICS_PORT": "70000"})
    assert "edge.request_timeout_seconds: must be above 0" in str(error.value)
    assert "edge.metrics_port" in str(error.value)
