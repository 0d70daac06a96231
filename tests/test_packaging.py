"""The install exposes one import name, modelwatch, with every part below it."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from tests.conftest import BARE_PART_NAMES, ROOT

PARTS = sorted(BARE_PART_NAMES)


def test_every_package_folder_is_installed():
    """A sub-package missing from pyproject's list would import here (editable) but not from a wheel."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, mapping = set(setuptools["packages"]), setuptools["package-dir"]
    folders = {}
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            folders[".".join((name, *relative.parts))] = init
    assert set(folders) == listed
    assert all(name == "modelwatch" or name.startswith("modelwatch.") for name in listed | set(mapping))


@pytest.mark.integration
def test_a_fresh_editable_install_has_only_the_modelwatch_import_name(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
                              "-e", str(ROOT)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    # From a folder outside the checkout, as a user's program would run.
    probe = (
        "import importlib.util, sys\n"
        f"parts = {PARTS!r}\n"
        "bare = [p for p in parts if importlib.util.find_spec(p) is not None]\n"
        "missing = [p for p in parts if importlib.util.find_spec('modelwatch.' + p) is None]\n"
        "print(bare, missing)\n"
        "sys.exit(1 if bare or missing else 0)\n"
    )
    result = subprocess.run([str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"bare names importable, modelwatch.<part> missing: {result.stdout}{result.stderr}"
    rules = subprocess.run([str(python), "-c", "import rules"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert rules.returncode != 0 and "No module named 'rules'" in rules.stderr
    site = next((venv / "lib").glob("python3*/site-packages"))
    ours = {path.name for path in site.iterdir() if "modelwatch" in path.name.lower()}
    assert ours and all(name.startswith(("modelwatch", "__editable__")) for name in ours), ours


@pytest.mark.parametrize("lock, extra", [("service.lock", "serve"), ("exporter.lock", "exporter")])
def test_each_image_lock_pins_what_pyproject_asks_for_with_hashes(lock, extra):
    """The images install from these with --require-hashes; a dependency added to pyproject.toml without
    running scripts/lock-dependencies.sh fails here, not in an image build."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    text = (ROOT / "requirements" / lock).read_text()
    entries = [entry.strip() for entry in text.replace("\\\n", " ").splitlines()
               if entry.strip() and not entry.lstrip().startswith("#")]
    pinned = {}
    for entry in entries:
        requirement, *hashes = entry.split(" --hash=")
        name, _, version = requirement.strip().partition("==")
        assert version and hashes and all(h.startswith("sha256:") for h in hashes), entry
        pinned[name.lower().replace("_", "-")] = version
    for text_requirement in project["dependencies"] + project["optional-dependencies"][extra]:
        requirement = Requirement(text_requirement)
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in requirements/{lock}: run scripts/lock-dependencies.sh"
        assert requirement.specifier.contains(pinned[name]), f"{name}=={pinned[name]} does not meet {requirement}"
