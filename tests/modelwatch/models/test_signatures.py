"""Signed versions: whoever can write the registry but not read the key outside it cannot get
a swapped artifact loaded, least of all a pickle, which runs its code as it loads."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import shutil
import stat

import pytest

from modelwatch.cli import main
from modelwatch.core.secret_keys import read_key
from modelwatch.model_service.tabular import load_version
from modelwatch.model_service.training import train
from modelwatch.models.registry import ModelLoadError, Registry, sha256_of
from modelwatch.models.signatures import SIGNATURE_FILE, signature_of


class _RunsCodeWhenLoaded:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):  # unpickling calls open(marker, "w"): the file's existence proves the code ran
        return open, (self.marker, "w")


@pytest.fixture
def registry(config):
    return Registry(config.paths.registry_dir, config.model.name, config.paths.registry_key_file)


def _swap_in_a_pickle(registry, version, marker):
    """What a writer of the registry would do: a pickle as the artifact, its sha256 recorded, marked trusted."""
    folder = registry.version_dir(version)
    (folder / "model.pkl").write_bytes(pickle.dumps(_RunsCodeWhenLoaded(marker)))
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata.update(artifact="model.pkl", format="pickle", trusted={"pickle": True, "types": []})
    metadata["sha256"]["model.pkl"] = sha256_of(folder / "model.pkl")
    (folder / "metadata.json").write_text(json.dumps(metadata))


def test_registration_signs_with_a_key_kept_outside_the_registry(config, registry):
    key_file = config.paths.registry_key_file
    assert config.paths.registry_dir not in key_file.parents
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for version in ("v1", "v2"):
        folder = registry.version_dir(version)
        expected = signature_of(read_key(key_file), (folder / "metadata.json").read_bytes())
        assert (folder / SIGNATURE_FILE).read_text().strip() == expected
    assert load_version(registry, "v2").version == "v2"


def test_a_swapped_pickle_is_refused_before_it_is_opened(config, registry, tmp_path):
    marker = tmp_path / "the pickle ran"
    _swap_in_a_pickle(registry, "v2", marker)
    with pytest.raises(ModelLoadError, match="does not match its signature") as caught:
        load_version(registry, "v2")
    assert caught.value.reason == "signature" and not marker.exists()
    assert load_version(registry, "v1").version == "v1"  # the other version is untouched


def test_without_the_key_a_pickle_is_refused_and_safe_formats_load(config, registry, tmp_path):
    """An image without the key mounted: sha256s only, so nothing that runs code."""
    config.paths.registry_key_file.unlink()
    marker = tmp_path / "the pickle ran"
    _swap_in_a_pickle(registry, "v2", marker)
    (registry.version_dir("v2") / SIGNATURE_FILE).unlink()
    with pytest.raises(ModelLoadError, match="loads only with a signature that verifies") as caught:
        load_version(registry, "v2")
    assert caught.value.reason == "signature" and not marker.exists()
    assert load_version(registry, "v1").version == "v1"  # skops: checked by its sha256


def test_an_unusable_key_refuses_every_version_rather_than_verify_less(config, registry):
    key_file = config.paths.registry_key_file
    key_file.write_text("not base64 at all!\n")
    with pytest.raises(ModelLoadError, match="cannot read the registry key") as caught:
        load_version(registry, "v1")
    assert caught.value.reason == "signature"
    key_file.unlink()
    key_file.mkdir()  # unreadable as a file (root reads any mode, so a folder stands in)
    with pytest.raises(ModelLoadError, match="cannot read the registry key"):
        load_version(registry, "v1")


def test_a_key_made_later_adopts_the_intact_versions_and_leaves_the_altered_unsigned(config, registry, capsys,
                                                                                         monkeypatch):
    """A registry from before signing: the first registration that makes the key signs what it finds intact."""
    config.paths.registry_key_file.unlink()
    for version in ("v1", "v2"):
        (registry.version_dir(version) / SIGNATURE_FILE).unlink()
    (registry.version_dir("v2") / "schema.json").write_text("{}")  # altered since its registration
    train(config)
    key = read_key(config.paths.registry_key_file)
    assert load_version(registry, "v1").version == "v1" and load_version(registry, "v3").version == "v3"
    assert not (registry.version_dir("v2") / SIGNATURE_FILE).exists()
    with pytest.raises(ModelLoadError, match="unsigned.*modelwatch models sign iris/v2"):
        load_version(registry, "v2")
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(config.paths.state_dir))
    assert main(["models", "sign", "iris/v2"]) == 1  # its files no longer match: not vouched for
    assert "do not match the sha256s" in capsys.readouterr().err
    assert not (registry.version_dir("v2") / SIGNATURE_FILE).exists()
    assert read_key(config.paths.registry_key_file) == key


def test_models_sign_vouches_for_an_unsigned_version(config, registry, capsys, monkeypatch):
    (registry.version_dir("v2") / SIGNATURE_FILE).unlink()
    with pytest.raises(ModelLoadError, match="unsigned"):
        load_version(registry, "v2")
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(config.paths.state_dir))
    assert main(["models", "sign", "iris/v2"]) == 0
    assert "signed iris/v2" in capsys.readouterr().out
    assert load_version(registry, "v2").version == "v2"
    assert main(["models", "sign", "iris/v9"]) == 1
    assert capsys.readouterr().err.strip().endswith(f"no 'iris/v9' in {config.paths.registry_dir}")


def test_deploy_refuses_a_version_whose_signature_fails(config, registry, capsys, monkeypatch, tmp_path):
    _swap_in_a_pickle(registry, "v2", tmp_path / "the pickle ran")
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(config.paths.state_dir))
    assert main(["deploy", "--stable", "v2"]) == 1
    assert "rejected (signature)" in capsys.readouterr().err
    assert registry.deployment().stable == "v1" and not (tmp_path / "the pickle ran").exists()


def _sign(registry, folder, barrier):
    barrier.wait()
    registry.sign(folder)


def test_registrations_making_the_key_at_once_share_it(config, registry):
    config.paths.registry_key_file.unlink()
    folders = []
    for copy in range(8):
        folder = registry.model_dir / f"copy{copy}"
        shutil.copytree(registry.version_dir("v1"), folder)
        (folder / SIGNATURE_FILE).unlink()
        folders.append(folder)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(folders))
    signers = [context.Process(target=_sign, args=(registry, folder, barrier)) for folder in folders]
    for signer in signers:
        signer.start()
    for signer in signers:
        signer.join(60)
    assert all(signer.exitcode == 0 for signer in signers)
    for folder in folders:
        assert load_version(registry, folder.name).version == folder.name


@pytest.mark.parametrize("text", ["[]", '{"sha256": []}', '{"trusted": "yes"}', "{"])
def test_metadata_that_is_not_a_versions_is_refused_as_unreadable(config, registry, text):
    """Signed as it is (a key holder's mistake, or no key): refused with a reason, never an exception
    that would end a worker's reload watcher."""
    folder = registry.version_dir("v2")
    (folder / "metadata.json").write_text(text)
    registry.sign(folder)
    with pytest.raises(ModelLoadError) as caught:
        load_version(registry, "v2")
    assert caught.value.reason == "unreadable"
