"""docs/own-model.md, run as written: its Python file and its shell commands
(``sh`` blocks; a ``shell`` block needs the whole stack for minutes and is
shown only), in order, in one shell, with modelwatch from this checkout on the PATH."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.model_service.served import free_port

pytestmark = pytest.mark.integration
TUTORIAL = ROOT / "docs" / "own-model.md"
BLOCK = re.compile(r"^```(python|sh)\n(.*?)^```", re.S | re.M)


def _script(folder: Path) -> Path:
    """The shell blocks, in order; each Python block written to the file its first line names."""
    commands = []
    for language, body in BLOCK.findall(TUTORIAL.read_text()):
        if language == "python":
            name = body.splitlines()[0].removeprefix("# ").strip()
            (folder / name).write_text(body)
        else:
            commands.append(body)
    script = folder / "tutorial.sh"
    script.write_text("set -euo pipefail\n" + "\n".join(commands))
    return script


def test_the_tutorial_runs_as_written(tmp_path):
    script = _script(tmp_path)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PORT=str(free_port()),
               MODELWATCH_PATHS__STATE_DIR=str(tmp_path / "state"))
    result = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    log = (tmp_path / "serve.log").read_text() if (tmp_path / "serve.log").exists() else ""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:] + log[-2000:]
    assert "registered penguins v1 (classification; 4 numeric and 2 categorical features" in result.stdout
    assert "penguins: v1 (stable)" in result.stdout
    answers = json.loads((tmp_path / "answer.json").read_text())["predictions"]
    assert [a["class"] for a in answers][0] == "Adelie" and all("prediction_id" in a for a in answers)
    assert json.loads((tmp_path / "refused.json").read_text())["error"]["field"] == "instances[0].body_mass_g"
    feedback = json.loads((tmp_path / "feedback.json").read_text())
    assert feedback["accepted"] == 1 and feedback["results"][0]["outcome"] == "accepted"
    assert re.search(r"(^|\D)400\n", result.stdout)  # curl's status line for the refused row
    assert 'bucket="(unseen)",feature="island"' in result.stdout  # the metrics block's output
