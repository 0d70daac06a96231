"""The running containers and their inspect documents (names, labels, state,
health, restarts, main pid), kept current from the engine's event stream, so
a scrape asks the engine nothing.

Subscribing comes before listing, so no change between the two is missed. Each
container event re-inspects that one container on the events thread. A list
every ``refresh_seconds``, on a thread of its own, is the safety net (it
inspects only containers it has not seen; an event newer than the list wins).
When the stream ends (the daemon stopped or restarted), or the engine does not
answer a scrape's ping (a hung daemon keeps its stream open), the directory is
not ``live`` and the scrape fails rather than serve containers that may be
gone; the next scrape reconnects, inspecting only containers it has not seen.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import docker

log = logging.getLogger(__name__)
# Events after which a container's inspect document is out of date
CHANGES = {"start", "restart", "die", "stop", "kill", "oom", "pause", "unpause", "rename", "update", "destroy",
           "health_status"}


class ContainerDirectory:
    def __init__(self, connect: Callable[[], docker.DockerClient], label_filter: str = "",
                 refresh_seconds: float = 60.0):
        self._connect = connect
        self._filters = {"label": [label_filter]} if label_filter else {}
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._containers: dict[str, dict] = {}
        self._changed: dict[str, float] = {}  # container id -> when an event last updated it
        self._generation = 0  # bumped at each (re)connection: an old events thread stops touching the directory
        self._events = None
        self.live = False

    def running(self) -> dict[str, dict]:
        """Container id -> inspect document, for every running container; raises when the engine is unreachable."""
        if self.live:
            try:
                self._client.ping()
            except Exception:
                self.live = False
                raise
        else:
            self._start()
        with self._lock:
            return dict(self._containers)

    def _start(self) -> None:
        client = self._connect()
        with self._lock:
            self._generation += 1
            generation = self._generation
        if self._events is not None:
            self._events.close()  # a hung daemon's stream would otherwise hold its thread for good
        events = client.events(decode=True, filters={"type": "container", **self._filters})  # subscribed from here
        self._client, self._events = client, events
        self._list(client, generation)
        self.live = True
        threading.Thread(target=self._follow, args=(client, events, generation), name="docker-events",
                         daemon=True).start()
        threading.Thread(target=self._refresh, args=(client, generation), name="docker-list", daemon=True).start()

    def _list(self, client: docker.DockerClient, generation: int) -> None:
        started = time.monotonic()
        with self._lock:
            known = dict(self._containers)
        listed = {}
        for summary in client.api.containers(filters=self._filters):  # running only
            document = known.get(summary["Id"]) or self._inspect(client, summary["Id"])
            if document is not None:
                listed[summary["Id"]] = document
        with self._lock:
            if generation != self._generation:
                return
            for container_id, changed in self._changed.items():  # events during the list know better
                if changed >= started and container_id in self._containers:
                    listed[container_id] = self._containers[container_id]
                elif changed >= started:
                    listed.pop(container_id, None)
            self._containers = listed
            self._changed = {i: t for i, t in self._changed.items() if t >= started}

    def _refresh(self, client: docker.DockerClient, generation: int) -> None:
        while generation == self._generation and self.live:
            time.sleep(self._refresh_seconds)
            try:
                self._list(client, generation)
            except Exception as exc:  # the events thread notices a daemon that went away
                log.info("listing containers failed: %s", exc)

    @staticmethod
    def _inspect(client: docker.DockerClient, container_id: str) -> dict | None:
        try:
            document = client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None
        return document if document.get("State", {}).get("Running") else None

    def _follow(self, client: docker.DockerClient, events, generation: int) -> None:
        try:
            for event in events:
                action = event.get("Action", event.get("status", "")).split(":")[0]
                container_id = event.get("id") or event.get("Actor", {}).get("ID")
                if action not in CHANGES or not container_id:
                    continue
                document = None if action == "destroy" else self._inspect(client, container_id)
                with self._lock:
                    if generation != self._generation:
                        return
                    if document is None:
                        self._containers.pop(container_id, None)
                    else:
                        self._containers[container_id] = document
                    self._changed[container_id] = time.monotonic()
        except Exception as exc:
            log.info("docker events stream ended: %s", exc)
        finally:
            with self._lock:
                if generation == self._generation:
                    self.live = False  # the documents stay, to spare inspecting them all again
