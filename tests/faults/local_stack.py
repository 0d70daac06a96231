"""``modelwatch up`` for a fault test: free loopback ports, the test's state folder, ``down`` afterwards."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from modelwatch.cli import main
from tests.conftest import require_binary
from tests.modelwatch.test_stack import stack_env


@contextmanager
def local_stack(state_dir: Path, monkeypatch, **settings):
    """Yield the stack's environment (``stack_env`` with ``settings``) while the whole local stack runs."""
    for binary in ("haproxy", "prometheus", "prometheus-alertmanager"):
        require_binary(binary)
    env = stack_env(state_dir, **settings)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        assert main(["up"]) == 0
        yield env
    finally:
        main(["down"])
