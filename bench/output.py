"""Where every benchmark's figures go: a JSON file under bench/results/, and a line saying where."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console


def write_results(path: Path, results, console: Console) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    console.print(f"written {path}")
