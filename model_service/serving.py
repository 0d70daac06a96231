"""Which model versions serve, and switching them safely.

``ModelServer`` holds an immutable ``ServingState`` (the deployment and its
loaded versions) and replaces it in one assignment, so a request sees either
the old or the new state, never a mix. A reload loads and verifies every
deployed version first; if any fails, the current state keeps serving and the
failure is counted (``model_reload_failures_total``).

Each gunicorn worker watches the registry's ``deployment.json`` and a
reload-request file; touching the latter (SIGHUP to the master, the admin
endpoint) makes every worker reload from the registry.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from modelwatch.model_service import heap
from modelwatch.model_service.metrics import ServiceMetrics
from modelwatch.model_service.tabular import TabularModel, load_version
from modelwatch.models.registry import Deployment, ModelLoadError, Registry, RegistryNotWritable
from modelwatch.core.errors import ModelwatchError

log = logging.getLogger(__name__)
RELOAD_REQUEST_FILE = ".reload-request"


@dataclass(frozen=True)
class ServingState:
    deployment: Deployment
    models: dict[str, TabularModel]

    def role(self, version: str) -> str:
        return "canary" if version == self.deployment.canary else "stable"


def request_reload(registry: Registry) -> None:
    """Ask every worker serving from this registry to reload (RegistryNotWritable when it cannot)."""
    path = registry.model_dir / RELOAD_REQUEST_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            handle.write("reload\n")
    except OSError as exc:
        raise RegistryNotWritable(f"cannot ask the workers to reload: {path} is not writable ({exc.strerror}); "
                                  "restart the service to load a new registry") from None


def _stamp(path: Path) -> tuple | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class ModelServer:
    def __init__(
        self,
        registry: Registry,
        predictor_kind: str,
        metrics: ServiceMetrics | None,
        rng: Callable[[], float] = random.random,
    ):
        self.registry = registry
        self.predictor_kind = predictor_kind
        self.metrics = metrics
        self.rng = rng
        self.state: ServingState | None = None
        self.last_error: str | None = None  # the whole message (logs, the authenticated API)
        self.public_error: str | None = None  # what /readyz may tell anyone: no paths, no exception text
        self.behind = False  # a changed deployment is not served yet: its reload failed and is retried
        self._lock = threading.Lock()  # one reload at a time
        self._stop = threading.Event()
        # Taken before the first load, so a change made while loading is not missed.
        self._seen = self._watched()
        if metrics:
            metrics.model_registered(registry.model_name)

    def _watched(self) -> tuple:
        return (_stamp(self.registry.deployment_file), _stamp(self.registry.model_dir / RELOAD_REQUEST_FILE))

    def reload(self, count_failure: bool = True) -> ServingState:
        """Load the deployment from the registry; on failure keep serving and raise."""
        with self._lock:
            try:
                deployment = self.registry.deployment()
            except ModelwatchError as exc:
                self._failed("missing", str(exc), count_failure)
                raise
            return self._switch(deployment, count_failure=count_failure)

    def deploy(self, deployment: Deployment) -> ServingState:
        """Verify the versions, then write the deployment and serve it (blue/green, canary)."""
        with self._lock:
            return self._switch(deployment, persist=True)

    def _switch(self, deployment: Deployment, persist: bool = False, count_failure: bool = True) -> ServingState:
        try:
            models = {v: load_version(self.registry, v, self.predictor_kind) for v in deployment.versions}
        except ModelLoadError as exc:
            self._failed(exc.reason, str(exc), count_failure, exc.version)
            raise
        if persist:
            self.registry.set_deployment(deployment)
        new = ServingState(deployment, models)
        if self.metrics:  # series before the switch: a request may use a new version the moment it is in
            for version, model in models.items():
                self.metrics.model_loaded(model, new.role(version))
        old, self.state = self.state, new
        self.last_error = self.public_error = None
        if self.metrics:
            serving = {(version, new.role(version)) for version in models}
            for version, model in (old.models.items() if old else ()):
                if (version, old.role(version)) not in serving:
                    self.metrics.model_unloaded(model, old.role(version))
            self.metrics.reload_succeeded(self.registry.model_name)
        log.info("serving %s", ", ".join(f"{v} ({new.role(v)})" for v in deployment.versions))
        heap.settle()
        return new

    def _failed(self, reason: str, message: str, count: bool = True, version: str | None = None) -> None:
        self.last_error = message
        self.public_error = (f"model version {version!r} rejected ({reason})" if version
                             else f"no deployment to serve ({reason}): register a version with modelwatch train"
                                  " or modelwatch models add")
        if not count:  # a retry of a change already reported
            return
        log.error("reload rejected, current versions keep serving: %s", message)
        if self.metrics:
            self.metrics.reload_failed(self.registry.model_name, reason)

    def choose(self) -> TabularModel:
        """The version for one request: the canary with its weight, else stable."""
        state = self.state
        deployment = state.deployment
        if deployment.canary is not None and self.rng() < deployment.canary_weight:
            return state.models[deployment.canary]
        return state.models[deployment.stable]

    def watch(self, poll_seconds: float) -> threading.Thread:
        """Reload whenever the deployment or the reload-request file changes. A reload that fails is tried
        again every poll until it succeeds (a file unreadable for a moment must not leave this worker on
        the old deployment for good), counted once per change; the worker says it is behind meanwhile."""

        def loop():
            while not self._stop.wait(poll_seconds):
                try:
                    current = self._watched()
                    if current == self._seen and not self.behind:
                        continue
                    retry = current == self._seen
                    self._seen = current
                    try:
                        self.reload(count_failure=not retry)
                        self.behind = False
                    except ModelwatchError:
                        self.behind = True  # logged (and counted, the first time); the current state keeps serving
                except Exception as exc:  # the watcher must outlive anything one poll meets
                    log.exception("watching %s failed; trying again in %g s", self.registry.model_dir, poll_seconds)
                    self.last_error, self.behind = f"{type(exc).__name__}: {exc}", True
                    self.public_error = f"reload failed ({type(exc).__name__})"
                if self.metrics:
                    self.metrics.deployment_current_is(self.registry.model_name, not self.behind)

        thread = threading.Thread(target=loop, name="model-reload-watcher", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
