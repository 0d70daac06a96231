"""A real Docker engine for tests: the running one, or one started here as the
design says (``dockerd --bridge=none --iptables=false``), and a test image
imported from Debian's static busybox (no registry is reachable)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from pathlib import Path

import docker
import pytest

from tests.conftest import require_binary

IMAGE = "modelwatch-busybox:test"
APPLETS = ("sh", "sleep", "dd", "cat", "true")


def _ping() -> docker.DockerClient | None:
    try:
        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except Exception:
        return None


class DockerEngine:
    """The engine the tests use; ``owned`` when these tests started the daemon."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.daemon: subprocess.Popen | None = None
        self.client = _ping()
        self.owned = self.client is None
        if self.owned:
            self.start()

    def start(self) -> None:
        dockerd = require_binary("dockerd")
        if os.geteuid() != 0:
            pytest.skip("starting dockerd needs root")
        log = open(self.log_dir / f"dockerd-{time.time():.0f}.log", "w")
        self.daemon = subprocess.Popen([dockerd, "--bridge=none", "--iptables=false"], stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while (client := _ping()) is None:
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dockerd did not start; see {log.name}")
            time.sleep(0.3)
        self.client = client

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.terminate()
            self.daemon.wait(30)
            self.daemon = None


def busybox_image(client: docker.DockerClient) -> str:
    if not client.images.list(name=IMAGE):
        busybox = Path(require_binary("busybox")).resolve()
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            tar.add(busybox, arcname="bin/busybox")
            for applet in APPLETS:
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        client.api.import_image_from_data(data.getvalue(), repository=IMAGE.split(":")[0], tag=IMAGE.split(":")[1])
    return IMAGE
