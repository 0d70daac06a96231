import pytest

from tests.exporter.docker_engine import DockerEngine, busybox_image


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory) -> DockerEngine:
    """The real Docker engine, started here when none runs, with the busybox test image."""
    engine = DockerEngine(tmp_path_factory.mktemp("dockerd"))
    busybox_image(engine.client)
    yield engine
    if engine.owned:
        engine.stop()
