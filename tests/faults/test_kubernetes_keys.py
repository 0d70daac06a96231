"""F20: a key removed from the Kubernetes keys Secret must stop working without a restart.

No kubelet runs here, so the stand-in is its update of a Secret volume, done the way
its AtomicWriter does it: the files in a new ``..<timestamp>`` folder, the ``..data``
symlink swapped to it with a rename, the visible ``keys.json`` a symlink through
``..data``. The real service reads the key file inside that folder (as the manifests
now mount it). With the old ``subPath`` mount the container saw a bind mount of the
file as it was at start; that is reproduced with a real bind mount for the "before".
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from modelwatch.model_service.keys import KeyStore
from tests.faults.test_keys import settles_to, status_with
from tests.model_service.served import serve

pytestmark = pytest.mark.integration

KUBELET_SYNC_BOUND = 60 + 15  # kubelet's default syncFrequency plus its Secret cache's jitter, as documented


def kubelet_update(folder: Path, files: dict[str, bytes]) -> None:
    """What the kubelet's AtomicWriter does with a Secret volume: new folder, ..data swapped by rename."""
    folder.mkdir(exist_ok=True)
    stamp = folder / datetime.now(timezone.utc).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    stamp.mkdir()
    for name, content in files.items():
        (stamp / name).write_bytes(content)
    data = folder / "..data"
    previous = data.resolve() if data.is_symlink() else None
    (folder / "..data_tmp").symlink_to(stamp.name)
    os.rename(folder / "..data_tmp", data)
    for name in files:
        if not (folder / name).is_symlink():
            (folder / name).symlink_to(Path("..data") / name)
    if previous is not None:
        for old in previous.iterdir():
            old.unlink()
        previous.rmdir()


def test_f20_a_key_removed_from_the_secret_gets_401_after_the_kubelet_updates_the_folder(state_dir, tmp_path, report,
                                                                                         monkeypatch):
    staging = KeyStore(tmp_path / "staging" / "keys.json")  # what `kubectl create secret --from-file` would read
    alice, bob = staging.add("alice"), staging.add("bob")
    folder = tmp_path / "api-keys"
    kubelet_update(folder, {"keys.json": staging.path.read_bytes()})
    monkeypatch.setenv("MODELWATCH_PATHS__KEYS_PATH", str(folder / "keys.json"))
    with serve(state_dir) as (base, _):
        assert status_with(base, bob) == 200
        staging.remove("bob")
        kubelet_update(folder, {"keys.json": staging.path.read_bytes()})
        updated = time.monotonic()
        assert settles_to(base, bob, 401, seconds=10.0)
        seconds_after_update = time.monotonic() - updated
        assert status_with(base, alice) == 200
    report("F20", seconds_to_401_after_the_kubelet_update=round(seconds_after_update, 1),
           worst_case_seconds=round(KUBELET_SYNC_BOUND + seconds_after_update, 1), target_seconds=90)
    assert KUBELET_SYNC_BOUND + seconds_after_update <= 90


def test_f20_before_a_subpath_style_bind_mount_keeps_a_removed_key_working(state_dir, tmp_path, report):
    if os.geteuid() != 0:
        pytest.skip("a bind mount needs root")
    staging = KeyStore(tmp_path / "staging" / "keys.json")
    bob = staging.add("bob")
    folder = tmp_path / "api-keys"
    kubelet_update(folder, {"keys.json": staging.path.read_bytes()})
    mounted = state_dir / "keys.json"
    mounted.touch()
    subprocess.run(["mount", "--bind", str((folder / "keys.json").resolve()), str(mounted)], check=True)
    try:
        with serve(state_dir) as (base, _):
            staging.remove("bob")
            kubelet_update(folder, {"keys.json": staging.path.read_bytes()})
            still_accepted = not settles_to(base, bob, 401, seconds=5.0)
    finally:
        subprocess.run(["umount", str(mounted)], check=True)
    report("F20", subpath_mount_removed_key_still_accepted_after_5_s=still_accepted)
    assert still_accepted  # why the manifests mount the folder
