"""Shared fixtures: a configuration in a temporary state folder, a trained
registry (trained once per session, copied per test), keys, and a Flask client."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from modelwatch.core.config import load_config

# The parts install only as modelwatch.<part>. The repository root is on the
# tests' path (for tests.*), so refuse the bare folder names here: a test that
# imports one would pass here and fail wherever modelwatch is installed.
BARE_PART_NAMES = frozenset({"model_service", "exporter", "rules", "dashboards", "autoscaler", "loadtests"})


class _BarePartNameBlocker:
    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in BARE_PART_NAMES:
            raise ImportError(f"import modelwatch.{fullname}, not {fullname}: the parts install under modelwatch only")
        return None


sys.meta_path.insert(0, _BarePartNameBlocker())

# Every service the tests start would listen for gRPC on 8001 by default, and two at once (a canary
# beside its release, a test beside a user's service) would refuse to start: gRPC is off in the
# tests' environment unless a test gives it a free port (tests/model_service/served.py grpc=True).
os.environ.setdefault("MODELWATCH_SERVICE__GRPC_PORT", "0")

ON_CI = os.environ.get("CI") == "true"
ROOT = Path(__file__).resolve().parents[1]


def require_binary(name: str) -> str:
    """Path of a system binary; on CI a missing one fails the test instead of skipping it."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (scripts/setup.sh installs it on Debian)"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def make_config(state_dir: Path, **env):
    values = {"MODELWATCH_PATHS__STATE_DIR": str(state_dir)}
    values.update({f"MODELWATCH_{k.upper()}": str(v) for k, v in env.items()})
    return load_config(env=values)


@pytest.fixture(scope="session")
def trained_state(tmp_path_factory) -> Path:
    from modelwatch.model_service.training import train

    state = tmp_path_factory.mktemp("trained")
    config = make_config(state)
    train(config)
    train(config)  # v2, registered but not deployed
    return state


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, dict]:
    """Users' kinds of models: name -> fitted model, artifact, reference and target (tests/own_models.py)."""
    from tests.own_models import make_models

    return make_models(tmp_path_factory.mktemp("own-models"))


@pytest.fixture
def state_dir(trained_state, tmp_path) -> Path:
    state = tmp_path / "state"
    shutil.copytree(trained_state, state)
    return state


@pytest.fixture
def config(state_dir):
    return make_config(state_dir)


@pytest.fixture
def keys(config) -> dict[str, str]:
    from modelwatch.model_service.keys import KeyStore

    store = KeyStore(config.paths.keys_file)
    return {"user": store.add("alice"), "admin": store.add("ops", role="admin")}


@pytest.fixture
def app(config, keys):
    from prometheus_client import CollectorRegistry

    from modelwatch.model_service.app import create_app

    registry = CollectorRegistry()
    application = create_app(config, registry=registry, watch=False)
    application.testing = True
    application.extensions["test_registry"] = registry
    return application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory):
    """The real Docker engine, started here when none runs, with the busybox test image."""
    from tests.exporter.docker_engine import DockerEngine, busybox_image

    engine = DockerEngine(tmp_path_factory.mktemp("dockerd"))
    busybox_image(engine.client)
    yield engine
    if engine.owned:
        engine.stop()


IMAGE_TAG = "test"
IMAGE_NAMES = ("modelwatch/model-service", "modelwatch/exporter")
VENDOR_LABEL = "org.opencontainers.image.vendor=modelwatch"


@contextmanager
def built_images(client, tag: str, model_versions: str = "v1"):
    """Both images under `tag`, built as CI can (scripts/build-images.sh: a
    debootstrap base, a wheelhouse from the host, no registry), and removed
    after the block: each build is about 1 GB, and CI machines share their disk."""
    require_binary("debootstrap")
    result = subprocess.run(["bash", "scripts/build-images.sh", tag], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, PYTHON=sys.executable, MODEL_VERSIONS=model_versions), timeout=1200)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    try:
        yield client
    finally:
        # Deleting a 1 GB image on a busy shared disk took longer than the client's 10 s read timeout
        # once (a CI run failed in teardown): cleanup waits as long as it takes, then restores it.
        usual, client.api.timeout = client.api.timeout, 600
        try:
            for name in IMAGE_NAMES:
                client.images.remove(f"{name}:{tag}", force=True)
            client.images.prune(filters={"dangling": True, "label": VENDOR_LABEL})
        finally:
            client.api.timeout = usual


@pytest.fixture(scope="session")
def modelwatch_images(docker_engine):
    """The two images, built once per session; the Docker client."""
    with built_images(docker_engine.client, IMAGE_TAG) as client:
        yield client
