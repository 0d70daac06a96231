"""The model registry: versioned artifacts on disk and the deployment that says
which versions serve. Loading a version for serving is the service's
(``modelwatch.model_service.tabular``); this module only knows the layout.

Layout, below ``paths.registry_dir``::

    <model>/v1/model.skops         the artifact, as registered (or model.onnx, model.ubj...)
    <model>/v1/model.onnx          its portable form, when registered with one
    <model>/v1/schema.json         the features the API validates against
    <model>/v1/metadata.json       version, sha256s, quality, features, classes, probe rows
    <model>/v1/metadata.sig        its HMAC-SHA256 with the registry key (modelwatch.models.signatures)
    <model>/v1/data-baseline.json  per-feature buckets and class mix (or prediction buckets)
    <model>/v1/reference-sample.json  reference rows the load tests send
    <model>/deployment.json        {"stable": "v1", "canary": null, "canary_weight": 0.0}

A version is written into a temporary folder and renamed into place, so a
reader never sees half a version and registering one never touches another.

The registry key lives outside this folder (``<state_dir>/secrets/registry.key`` by
default). Where it is, the service loads only versions whose signature verifies; where
it is not (an image without the key mounted), versions are checked by their sha256s
alone and a pickled artifact, which runs code as it loads, is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from modelwatch.core.config import MODEL_NAME_PATTERN
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.files import write_json_atomically
from modelwatch.core.secret_keys import load_or_create_key, read_key
from modelwatch.models import signatures

VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
ONNX_FILE = "model.onnx"  # a version's portable form
METADATA_FILE = signatures.METADATA_FILE
DATA_BASELINE_FILE = "data-baseline.json"
DEPLOYMENT_FILE = "deployment.json"
# A registered version's sample of its reference rows (the load tests send them), and the task and
# categories that say how to change them for a drift scenario.
REFERENCE_SAMPLE_FILE = "reference-sample.json"


class ModelLoadError(ModelwatchError):
    """A version could not be loaded; ``reason`` is a bounded metric label value."""

    REASONS = ("missing", "checksum", "unreadable", "mismatch", "signature")

    def __init__(self, version: str, reason: str, detail: str):
        assert reason in self.REASONS
        super().__init__(f"model version {version!r} rejected ({reason}): {detail}")
        self.version = version
        self.reason = reason


@dataclass(frozen=True)
class Deployment:
    stable: str
    canary: str | None = None
    canary_weight: float = 0.0

    def problems(self) -> list[str]:
        problems = []
        if not 0.0 <= self.canary_weight <= 1.0:
            problems.append("canary_weight: must be between 0 and 1")
        if self.canary is None and self.canary_weight > 0:
            problems.append("canary_weight: set a canary version first")
        if self.canary is not None and self.canary == self.stable:
            problems.append("canary: must differ from stable")
        return problems

    @property
    def versions(self) -> tuple[str, ...]:
        return (self.stable,) if self.canary is None else (self.stable, self.canary)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version_key(version: str) -> tuple:
    match = re.fullmatch(r"v(\d+)", version)
    return (0, int(match.group(1)), "") if match else (1, 0, version)


class RegistryNotWritable(ModelwatchError):
    """The registry is read-only (an image's baked-in registry) or its disk is full: nothing was changed."""


class Registry:
    def __init__(self, root: Path, model_name: str, key_file: Path | None = None):
        self.root = Path(root)
        self.model_name = model_name
        self.model_dir = self.root / model_name
        # paths.registry_key_file; by default beside the registry (state_dir/secrets next to state_dir/models)
        self.key_file = Path(key_file) if key_file else self.root.parent / "secrets" / "registry.key"

    def name_is_valid(self) -> bool:
        return bool(MODEL_NAME_PATTERN.match(self.model_name))

    @staticmethod
    def models(root: Path) -> list[str]:
        """The registered models' names."""
        root = Path(root)
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and MODEL_NAME_PATTERN.match(p.name))

    # -- versions ---------------------------------------------------------------
    def versions(self) -> list[str]:
        if not self.model_dir.is_dir():
            return []
        found = [p.name for p in self.model_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return sorted(found, key=_version_key)

    def next_version(self) -> str:
        numbers = [int(v[1:]) for v in self.versions() if re.fullmatch(r"v\d+", v)]
        return f"v{max(numbers, default=0) + 1}"

    def version_dir(self, version: str) -> Path:
        return self.model_dir / version

    def staging_dir(self) -> Path:
        """A fresh folder to write a version into before ``commit``."""
        self.model_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.model_dir, prefix=".staging-"))

    def commit(self, staging: Path, version: str) -> Path:
        if not VERSION_PATTERN.match(version):
            raise ModelwatchError(f"invalid version name {version!r}: use letters, digits, '.', '_' or '-'")
        target = self.version_dir(version)
        try:
            os.rename(staging, target)  # atomic; fails if the version exists
        except OSError:
            raise ModelwatchError(f"model version {version!r} already exists in {self.model_dir}") from None
        return target

    def metadata(self, version: str) -> dict[str, Any]:
        path = self.version_dir(version) / METADATA_FILE
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelLoadError(version, "missing", f"{path} does not exist") from None
        except (OSError, ValueError) as exc:
            raise ModelLoadError(version, "unreadable", f"{path}: {exc}") from None

    def verified_metadata(self, version: str) -> dict[str, Any]:
        """A version's metadata as signed at registration, every file it lists checked against its
        recorded sha256: all before any of them is parsed."""
        folder = self.version_dir(version)
        try:
            raw = (folder / METADATA_FILE).read_bytes()
        except FileNotFoundError:
            raise ModelLoadError(version, "missing", f"{folder / METADATA_FILE} does not exist") from None
        except OSError as exc:
            raise ModelLoadError(version, "unreadable", f"{folder / METADATA_FILE}: {exc.strerror}") from None
        key = self._verifying_key(version)
        if key is not None:
            signed = signatures.matches(folder, raw, key)
            if signed is None:
                raise ModelLoadError(version, "signature", "unsigned: registered before the registry key or copied "
                                     f"in; if you trust it: modelwatch models sign {self.model_name}/{version}")
            if not signed:
                raise ModelLoadError(version, "signature", f"{METADATA_FILE} does not match its signature: changed "
                                     "since registration, or signed with another registry key")
        try:
            metadata = json.loads(raw)
        except ValueError as exc:
            raise ModelLoadError(version, "unreadable", f"{folder / METADATA_FILE}: {exc}") from None
        if not isinstance(metadata, dict) or not isinstance(metadata.get("trusted", {}), dict) \
                or not isinstance(metadata.get("sha256", {}), dict):
            raise ModelLoadError(version, "unreadable", f"{folder / METADATA_FILE} is not a version's metadata")
        if key is None and metadata.get("trusted", {}).get("pickle"):
            raise ModelLoadError(version, "signature", "its pickled artifact runs code as it loads, so it loads only "
                                 f"with a signature that verifies, and there is no registry key at {self.key_file}")
        damage = self._damage(version, metadata)
        if damage is not None:
            raise damage
        return metadata

    def _damage(self, version: str, metadata: dict[str, Any]) -> ModelLoadError | None:
        """The first file the metadata lists that is missing or differs from its recorded sha256."""
        folder = self.version_dir(version)
        for filename, expected in metadata.get("sha256", {}).items():
            path = folder / filename
            if not path.is_file():
                return ModelLoadError(version, "missing", f"{filename} is missing")
            if sha256_of(path) != expected:
                return ModelLoadError(version, "checksum", f"{filename} does not match its recorded sha256")
        return None

    def _verifying_key(self, version: str) -> bytes | None:
        try:
            return read_key(self.key_file)
        except FileNotFoundError:
            return None
        except (OSError, ModelwatchError) as exc:  # a key there but unusable: refuse rather than verify less
            raise ModelLoadError(version, "signature", f"cannot read the registry key {self.key_file}: "
                                 f"{getattr(exc, 'strerror', None) or exc}") from None

    # -- signing ------------------------------------------------------------------
    def sign(self, folder: Path) -> list[str]:
        """Sign the metadata in ``folder`` (a staging folder, or a registered version's) with the registry
        key, made now if there is none. A new key also signs the versions registered before it whose
        files match their sha256s; returns those ("model/version")."""
        created = not self.key_file.exists()
        key = load_or_create_key(self.key_file)
        signatures.sign(folder, key)
        if not created:
            return []
        adopted = []
        for name in self.models(self.root):
            registry = Registry(self.root, name, self.key_file)
            for version in registry.versions():
                if not (registry.version_dir(version) / signatures.SIGNATURE_FILE).exists() \
                        and registry._intact(version):
                    signatures.sign(registry.version_dir(version), key)
                    adopted.append(f"{name}/{version}")
        return adopted

    def sign_version(self, version: str) -> None:
        """Sign a registered version whose files still match their recorded sha256s."""
        if version not in self.versions():
            raise ModelwatchError(f"no version {version!r} of {self.model_name}")
        if not self._intact(version):
            raise ModelwatchError(f"{self.model_name}/{version}: its metadata is unreadable or its files do not "
                                  "match the sha256s in it; not signed")
        self.sign(self.version_dir(version))

    def _intact(self, version: str) -> bool:
        """Whether a version's metadata reads as one and every file it lists matches its sha256."""
        try:
            metadata = json.loads((self.version_dir(version) / METADATA_FILE).read_bytes())
            return isinstance(metadata, dict) and self._damage(version, metadata) is None
        except (OSError, ValueError, AttributeError):  # AttributeError: a "sha256" that is not a mapping
            return False

    # -- deployment ---------------------------------------------------------------
    @property
    def deployment_file(self) -> Path:
        return self.model_dir / DEPLOYMENT_FILE

    def deployment(self) -> Deployment:
        try:
            raw = json.loads(self.deployment_file.read_text())
            return Deployment(raw["stable"], raw.get("canary"), float(raw.get("canary_weight", 0.0)))
        except FileNotFoundError:
            versions = self.versions()
            if not versions:
                raise ModelwatchError(
                    f"no model versions in {self.model_dir}: run 'modelwatch train' first"
                ) from None
            return Deployment(stable=versions[-1])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelwatchError(f"{self.deployment_file} is unreadable: {exc}") from None

    def set_deployment(self, deployment: Deployment) -> None:
        problems = deployment.problems()
        missing = [v for v in deployment.versions if not self.version_dir(v).is_dir()]
        problems += [f"unknown model version {v!r}" for v in missing]
        if problems:
            raise ModelwatchError("invalid deployment: " + "; ".join(problems))
        try:
            write_json_atomically(self.deployment_file, asdict(deployment))
        except OSError as exc:
            raise RegistryNotWritable(f"cannot write {self.deployment_file}: {exc.strerror}") from None

    # -- removal ----------------------------------------------------------------------
    def serving_versions(self) -> tuple[str, ...]:
        """The versions the deployment file names (none when there is none)."""
        try:
            return self.deployment().versions if self.deployment_file.exists() else ()
        except ModelwatchError:
            return ()

    def remove_version(self, version: str) -> None:
        """Remove a version that does not serve (renamed away first, so no reader sees half of it)."""
        if version not in self.versions():
            raise ModelwatchError(f"no version {version!r} of {self.model_name}")
        if version in self.serving_versions():
            role = "stable" if self.deployment().stable == version else "canary"
            raise ModelwatchError(f"{self.model_name}/{version} serves as {role}: deploy another version first "
                                  "(modelwatch deploy), then remove it")
        doomed = Path(tempfile.mkdtemp(dir=self.model_dir, prefix=".removing-"))
        os.rename(self.version_dir(version), doomed / version)
        shutil.rmtree(doomed)

    def remove(self) -> None:
        """Remove the whole model, every version and its deployment."""
        if not self.model_dir.is_dir():
            raise ModelwatchError(f"no model {self.model_name!r} in {self.root}")
        doomed = Path(tempfile.mkdtemp(dir=self.root, prefix=".removing-"))
        os.rename(self.model_dir, doomed / self.model_name)
        shutil.rmtree(doomed)
