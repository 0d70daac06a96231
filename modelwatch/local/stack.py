"""The local stack: the model service, the exporter, Prometheus, Alertmanager
and the autoscaler as processes on loopback, with one state folder and one
log per component.

``up`` checks everything it can before starting anything (binaries, ports),
starts the components in dependency order, waits for each to be healthy, and
records each process as soon as it starts; if one dies or never gets healthy,
everything started so far is stopped and the reason is one line. ``down``
stops whatever the record names (so it cleans up after an ``up`` that was
killed), and ``status`` asks each component's health endpoint.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import requests

from modelwatch.core.config import Config, config_to_yaml
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.ports import check_port_free
from modelwatch.core.processes import RecordedProcess
from modelwatch.core.files import write_atomically, write_json_atomically
from modelwatch.local.edge import haproxy_config


SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    host: str
    port: int | None  # None: no port of its own (the supervisor); healthy while it runs
    health_path: str
    other_ports: tuple[int, ...] = ()  # also bound, checked free before anything starts

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}" if self.port is not None else ""

    @property
    def health_url(self) -> str:
        return f"{self.url}{self.health_path}"


class Paths:
    def __init__(self, config: Config):
        root = Path(config.paths.state_dir)
        self.stack = root / "stack"
        self.record = self.stack / "processes.json"
        self.logs = root / "log"
        self.prometheus_dir = self.stack / "prometheus"
        self.rules = self.prometheus_dir / "rules"
        self.prometheus_data = root / "prometheus"
        self.alertmanager_data = root / "alertmanager"
        self.edge_config = self.stack / "haproxy.cfg"
        self.service_socket = root / "run" / "service.sock"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def components(config: Config, paths: Paths) -> list[Component]:
    """In start order: what others depend on comes first. With the edge, the service's health is
    asked through it, so "healthy" means that clients reach a ready service."""
    python = [sys.executable, "-m", "modelwatch"]
    prom, svc, exp, scaler = config.prometheus, config.service, config.exporter, config.autoscaler
    edge = [Component("edge", ["haproxy", "-db", "-f", str(paths.edge_config)], svc.host, config.edge.metrics_port,
                      "/healthz")] if config.edge.enabled else []
    return [
        *edge,
        Component("service", [*python, "serve"], svc.host, svc.port, "/readyz",
                  tuple(port for port in (svc.metrics_port, svc.grpc_port) if port)),
        Component("exporter", [*python, "exporter"], exp.host, exp.port, "/metrics"),
        Component("alertmanager", [
            "prometheus-alertmanager", f"--config.file={paths.prometheus_dir / 'alertmanager.yml'}",
            f"--storage.path={paths.alertmanager_data}", f"--web.listen-address={prom.host}:{prom.alertmanager_port}",
            "--cluster.listen-address=",
        ], prom.host, prom.alertmanager_port, "/-/ready"),
        Component("prometheus", [
            "prometheus", f"--config.file={paths.prometheus_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={paths.prometheus_data}", f"--storage.tsdb.retention.time={prom.retention}",
            f"--web.listen-address={prom.host}:{prom.port}", "--web.enable-lifecycle",
        ], prom.host, prom.port, "/-/ready"),
        Component("autoscaler", [*python, "autoscaler"], scaler.host, scaler.port, "/metrics"),
        # Last, so down stops it first: nothing is restarted while the stack is being stopped.
        Component(SUPERVISOR, [*python, "supervise"], svc.host, None, ""),
    ]


def ensure_model(config: Config) -> str | None:
    """Train a first version when the registry has none (the stack serves something); returns it, or None."""
    from modelwatch.models.registry import Registry

    if Registry(config.paths.registry_dir, config.model.name).versions():
        return None
    from modelwatch.model_service.training import train  # heavy imports only when training

    return train(config).version


def _healthy(component: Component) -> bool:
    if component.port is None:
        return True  # alive is all it can be
    try:
        return requests.get(component.health_url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _last_line(path: Path) -> str:
    """The line of a component's log that says why it stopped: the last one naming an error, else the last."""
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except FileNotFoundError:
        return "no log"
    if not lines:
        return "no output"
    # "Error parsing ...", "ValueError: ...", "level=error ...": tools print usage text after the error.
    marked = [line for line in lines if re.search(r"^(\w*(error|exception)\b|fatal\b)|level=(error|fatal)", line, re.I)]
    return (marked[-1] if marked else lines[-1])[:300]


class Stack:
    def __init__(self, config: Config):
        self.paths = Paths(config)
        if config.edge.enabled and not config.service.socket:  # the edge takes host:port
            config = replace(config, service=replace(
                config.service, socket=str(self.paths.service_socket.resolve()),
                metrics_port=config.service.metrics_port or config.edge.service_metrics_port))
        self.config = config
        self.components = components(config, self.paths)

    # -- the record of started processes ---------------------------------------------------
    def read_record(self) -> dict[str, RecordedProcess]:
        """Components recorded by ``up``, each with its pid and start time (see core.processes)."""
        try:
            stored = json.loads(self.paths.record.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        record = {name: RecordedProcess.from_record(value) for name, value in stored.items()} if isinstance(stored, dict) else {}
        return {name: process for name, process in record.items() if process is not None}

    def write_record(self, record: dict[str, RecordedProcess]) -> None:
        write_json_atomically(self.paths.record, {name: process.to_record() for name, process in record.items()})

    def running(self) -> dict[str, int]:
        """Recorded components whose process is still alive (and still the one recorded)."""
        return {name: process.pid for name, process in self.read_record().items() if process.live() is not None}

    # -- up ----------------------------------------------------------------------------------
    def preflight(self) -> None:
        """Everything that can be checked before starting anything, one line each."""
        if self.running():
            raise ModelwatchError("the stack is already running (modelwatch status; modelwatch down stops it)")
        binaries = ["prometheus", "prometheus-alertmanager", *(["haproxy"] if self.config.edge.enabled else [])]
        missing = [binary for binary in binaries if shutil.which(binary) is None]
        if missing:
            without_edge = "; or set edge.enabled: false" if "haproxy" in missing else ""
            verb = "is" if len(missing) == 1 else "are"
            raise ModelwatchError(f"{' and '.join(missing)} {verb} not installed (apt-get install {' '.join(missing)}"
                                  f"{without_edge})")
        for component in self.components:
            for port in ([component.port] if component.port is not None else []) + list(component.other_ports):
                try:
                    check_port_free(component.host, port)
                except ModelwatchError as exc:
                    raise ModelwatchError(f"{component.name}: {exc}") from None

    def write_configuration(self) -> None:
        from modelwatch.rules import write_rule_files
        from modelwatch.rules.alertmanager_config import write_alertmanager_config
        from modelwatch.rules.prometheus_config import write_prometheus_config

        write_rule_files(self.config, self.paths.rules)
        write_prometheus_config(self.config, self.paths.prometheus_dir / "prometheus.yml", self.paths.rules.resolve())
        write_alertmanager_config(self.config, self.paths.prometheus_dir / "alertmanager.yml")
        if self.config.edge.enabled:
            write_atomically(self.paths.edge_config, haproxy_config(self.config, Path(self.config.service.socket)))

    def up(self, progress=lambda message: None, timeout: float = 60.0) -> list[Component]:
        self.preflight()
        self.write_configuration()
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        record: dict[str, RecordedProcess] = {}
        # Every component reads exactly this configuration (the caller may have changed it in code).
        config_file = self.paths.stack / "modelwatch.yaml"
        write_atomically(config_file, config_to_yaml(self.config))  # the metrics token and the probe's key
        env = dict(os.environ, MODELWATCH_CONFIG=str(config_file.resolve()),
                   MODELWATCH_PATHS__STATE_DIR=str(Path(self.config.paths.state_dir).resolve()))
        try:
            for component in self.components:
                progress(f"starting {component.name}")
                process = self.start(component, env, fresh_log=True)
                record[component.name] = RecordedProcess.of(process.pid)
                self.write_record(record)  # recorded before waiting: down can stop it even if up is killed
                self._wait_healthy(component, process, timeout)
        except BaseException:
            self._stop(record)
            self.paths.record.unlink(missing_ok=True)
            raise
        return self.components

    def start(self, component: Component, env: dict, fresh_log: bool = False) -> subprocess.Popen:
        """Start one component with its output in its log (``up`` starts a new log, a restart appends)."""
        with open(self.paths.log(component.name), "w" if fresh_log else "a") as log:
            return subprocess_start(component.argv, log, env)

    def _wait_healthy(self, component: Component, process, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not _healthy(component):
            if process.poll() is not None:
                raise ModelwatchError(f"{component.name} exited at start: {_last_line(self.paths.log(component.name))}")
            if time.monotonic() > deadline:
                raise ModelwatchError(f"{component.name} was not healthy at {component.health_url} in {timeout:.0f} s: "
                                      f"{_last_line(self.paths.log(component.name))}")
            time.sleep(0.2)

    # -- down and status ---------------------------------------------------------------------
    def down(self) -> list[str]:
        record = self.read_record()
        # The supervisor first, then the record read again: it may have restarted something meanwhile.
        stopped = self._stop({name: p for name, p in record.items() if name == SUPERVISOR})
        stopped += self._stop({name: p for name, p in self.read_record().items() if name != SUPERVISOR})
        self.paths.record.unlink(missing_ok=True)
        return stopped

    def _stop(self, record: dict[str, RecordedProcess], grace: float = 35.0) -> list[str]:
        """Stop in reverse start order: SIGTERM to each process group, SIGKILL after ``grace``. A recorded
        pid that now names another process (reused after a crash or reboot) is left alone."""
        stopped = []
        for name in reversed([c.name for c in self.components if c.name in record]):
            recorded = record[name]
            if recorded.live() is None:
                continue
            try:
                os.killpg(recorded.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            stopped.append(name)
            deadline = time.monotonic() + grace
            while recorded.live() is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            if recorded.live() is not None:
                try:
                    os.killpg(recorded.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return stopped

    def status(self) -> list[dict]:
        alive = self.running()
        rows = []
        for component in self.components:
            rows.append({
                "name": component.name,
                "pid": alive.get(component.name),
                "url": component.url,
                "healthy": component.name in alive and _healthy(component),
            })
        return rows

    def replicas(self) -> int | None:
        from modelwatch.autoscaler.backends import GunicornWorkers

        try:
            return len(GunicornWorkers(self.config.paths.service_pid_file).replicas())
        except ModelwatchError:
            return None


def subprocess_start(argv: list[str], log, env: dict) -> subprocess.Popen:
    # Its own session: down stops the whole group (gunicorn's workers too), and a
    # Ctrl-C in the terminal that ran up does not reach it.
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True)
