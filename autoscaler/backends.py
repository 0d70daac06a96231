"""What the autoscaler scales. Locally: the service's gunicorn workers (TTIN
adds one, TTOU retires the oldest, gracefully). In compose: the service's
containers (a new one is a copy of a running replica; the newest is stopped,
gracefully, to scale down). A backend reports its replicas with their age, so
new ones can be treated as not ready yet."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import psutil

from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.processes import service_master


@dataclass(frozen=True)
class Replica:
    name: str
    started: float  # Unix time


class GunicornWorkers:
    """The workers of the gunicorn master whose pid is in ``pid_file``."""

    def __init__(self, pid_file: Path):
        self.pid_file = Path(pid_file)

    def _master(self) -> psutil.Process:
        return service_master(self.pid_file)  # never a stale pid's unrelated process

    def replicas(self) -> list[Replica]:
        master = self._master()
        found = []
        for child in master.children():
            try:
                found.append(Replica(str(child.pid), child.create_time()))
            except psutil.NoSuchProcess:
                continue  # exited between listing and asking
        return sorted(found, key=lambda r: r.started)

    def scale_to(self, replicas: int, timeout: float = 30.0) -> None:
        """Send one TTIN or TTOU per replica to add or remove, then wait until the count matches."""
        master = self._master()
        change = replicas - len(self.replicas())
        for _ in range(abs(change)):
            os.kill(master.pid, signal.SIGTTIN if change > 0 else signal.SIGTTOU)
            time.sleep(0.05)  # gunicorn handles one signal per wake-up of its loop; don't coalesce them
        deadline = time.monotonic() + timeout
        while len(self.replicas()) != replicas:
            if time.monotonic() > deadline:
                raise ModelwatchError(f"gunicorn did not reach {replicas} workers in {timeout:.0f} s")
            time.sleep(0.1)


class ComposeContainers:
    """The running containers of one compose service, found by compose's labels.

    Compose has no autoscaling of its own (docker/compose#10822): a replica is
    added by creating a container with a running replica's configuration —
    image, command, environment, mounts, labels (with the next container
    number) and networks with the service name as DNS alias, so HAProxy's
    resolver finds it — and removed by stopping the newest with the service's
    grace period, then removing it.
    """

    def __init__(self, client, project: str, service: str, stop_timeout: int = 40):
        self.client, self.project, self.service, self.stop_timeout = client, project, service, stop_timeout

    def _containers(self):
        labels = [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={self.service}"]
        return self.client.containers.list(filters={"label": labels, "status": "running"})

    def replicas(self) -> list[Replica]:
        found = []
        for container in self._containers():
            started = container.attrs["State"]["StartedAt"][:26].rstrip("Z")
            found.append(Replica(container.name, _unix_time(started)))
        if not found:
            raise ModelwatchError(f"no running container of compose service {self.project}/{self.service}")
        return sorted(found, key=lambda r: r.started)

    def _clone(self, template, number: int) -> None:
        config, host = template.attrs["Config"], template.attrs["HostConfig"]
        labels = dict(config.get("Labels") or {}, **{"com.docker.compose.container-number": str(number)})
        networks = list((template.attrs["NetworkSettings"].get("Networks") or {}).keys())
        mode = host.get("NetworkMode") or "default"
        container = self.client.containers.create(
            config["Image"], command=config.get("Cmd"), entrypoint=config.get("Entrypoint"),
            environment=config.get("Env"), labels=labels, name=f"{self.project}-{self.service}-{number}",
            volumes=host.get("Binds") or [], read_only=bool(host.get("ReadonlyRootfs")),
            tmpfs=host.get("Tmpfs") or {}, user=config.get("User") or None,
            # The same confinement and limits as the service's own containers.
            cap_drop=host.get("CapDrop") or None, security_opt=host.get("SecurityOpt") or None,
            nano_cpus=host.get("NanoCpus") or None, mem_limit=host.get("Memory") or None,
            network_mode=mode if mode in ("host", "none") or not networks else networks[0],
            restart_policy=host.get("RestartPolicy") or None,
        )
        if networks and mode not in ("host", "none"):
            # The service name as DNS alias on every network, as compose does: the proxy resolves it.
            first = self.client.networks.get(networks[0])
            first.disconnect(container)
            first.connect(container, aliases=[self.service])
            for network in networks[1:]:
                self.client.networks.get(network).connect(container, aliases=[self.service])
        container.start()

    def scale_to(self, replicas: int, timeout: float = 60.0) -> None:
        running = sorted(self._containers(), key=lambda c: c.attrs["State"]["StartedAt"])
        if not running:
            raise ModelwatchError(f"no running container of compose service {self.project}/{self.service} to copy")
        numbers = [int(c.labels.get("com.docker.compose.container-number", 0)) for c in running]
        for offset in range(replicas - len(running)):
            self._clone(running[0], max(numbers) + 1 + offset)
        for container in reversed(running[replicas:]):  # the newest first
            container.stop(timeout=self.stop_timeout)
            container.remove()
        deadline = time.monotonic() + timeout
        while len(self._containers()) != replicas:
            if time.monotonic() > deadline:
                raise ModelwatchError(f"compose service {self.service} did not reach {replicas} containers")
            time.sleep(0.2)


def _unix_time(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp()


def _workers(config: Config) -> GunicornWorkers:
    return GunicornWorkers(config.paths.service_pid_file)


def _compose(config: Config) -> ComposeContainers:
    import docker  # the exporter extra; only this backend needs it

    scaler = config.autoscaler
    return ComposeContainers(docker.from_env(), scaler.compose_project, scaler.compose_service)


# autoscaler.backend -> what it scales
BACKENDS: dict[str, Callable[[Config], GunicornWorkers | ComposeContainers]] = {"workers": _workers, "compose": _compose}
