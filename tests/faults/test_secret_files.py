"""F17: after ``modelwatch up`` with a metrics token and a probe key, no file holding a secret is
readable by group or others (the stack, its Prometheus and Alertmanager configurations, the keys)."""

from __future__ import annotations

import stat

import pytest

from modelwatch.model_service.keys import KeyStore
from tests.faults.local_stack import local_stack

pytestmark = pytest.mark.integration


def test_f17_files_holding_secrets_are_private(state_dir, monkeypatch, report):
    probe_key = KeyStore(state_dir / "keys.json").add("probe")
    token = "token-that-must-stay-private-0123456789"
    secrets = {probe_key, token}
    with local_stack(state_dir, monkeypatch, SERVICE__METRICS_TOKEN=token, EXPORTER__PROBE_KEY=probe_key):
        holding, exposed = [], []
        for path in state_dir.rglob("*"):
            if not path.is_file() or path.is_symlink():
                continue
            try:
                text = path.read_text(errors="ignore")
            except OSError:
                continue
            if any(secret in text for secret in secrets) or path.name == "keys.json":
                holding.append(path)
                if stat.S_IMODE(path.stat().st_mode) & 0o077:
                    exposed.append(f"{path.relative_to(state_dir)} {oct(stat.S_IMODE(path.stat().st_mode))}")
    report("F17", secret_files=len(holding), readable_by_group_or_others=len(exposed), exposed=exposed)
    assert len(holding) >= 3  # the stack's configuration, Prometheus's, the keys
    assert exposed == []
