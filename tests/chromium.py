"""Headless Chromium for the pages a person looks at: the DOM after scripts ran, and a screenshot."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import require_binary

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _command(profile: Path) -> list[str]:
    return [require_binary("chromium"), *FLAGS, f"--user-data-dir={profile}"]


def dump_dom(url: str, profile: Path, budget_ms: int = 10_000) -> str:
    """The page's DOM once its scripts had ``budget_ms`` of virtual time."""
    return subprocess.run([*_command(profile), f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120).stdout


def screenshot(url: str, profile: Path, out: Path, size: str = "1100,1600") -> Path:
    subprocess.run([*_command(profile), f"--window-size={size}", f"--screenshot={out}", url],
                   capture_output=True, timeout=120)
    return out
