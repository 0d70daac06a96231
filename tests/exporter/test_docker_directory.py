"""The container directory when events and its safety-net listing race: an
event that arrives while a list is in flight wins over what the list saw."""

from __future__ import annotations

import queue
import threading

from modelwatch.exporter.collectors.docker_directory import ContainerDirectory
from tests.waiting import wait_until


def document(container_id: str, running: bool = True) -> dict:
    return {"Id": container_id, "Name": f"/{container_id}", "State": {"Running": running, "Pid": 1}}


class RacingEngine:
    """A Docker client whose second list is held open while events arrive, as a busy engine's can be."""

    def __init__(self, listed: list[str]):
        self.running = {container_id: document(container_id) for container_id in listed}
        self.events_queue: queue.Queue = queue.Queue()
        self.lists = 0
        self.during_second_list = lambda: None
        self.later_lists = threading.Event()  # the lists after the second wait for it: the second's result stays
        self.api = self

    def events(self, decode, filters):
        def stream():
            while True:
                event = self.events_queue.get()
                if event is None:
                    return
                yield event
        return stream()

    def ping(self):
        return True

    def containers(self, filters):
        self.lists += 1
        snapshot = [{"Id": container_id} for container_id in self.running]  # what the engine listed...
        if self.lists == 2:
            self.during_second_list()  # ...and what changed before the list's answer was used
        elif self.lists > 2:
            self.later_lists.wait()
        return snapshot

    def inspect_container(self, container_id):
        return self.running.get(container_id) or document(container_id, running=False)

    def emit(self, action: str, container_id: str):
        if action == "start":
            self.running[container_id] = document(container_id)
        else:
            self.running.pop(container_id, None)
        self.events_queue.put({"Action": action, "id": container_id})


def test_events_during_a_list_win_over_what_the_list_saw():
    engine = RacingEngine(["stays", "stops"])
    directory = ContainerDirectory(lambda: engine, refresh_seconds=0.05)

    def changes_while_listing():
        engine.emit("die", "stops")
        engine.emit("start", "starts")
        wait_until(lambda: set(directory._containers) == {"stays", "starts"}, 10,
                   lambda: f"the events were not followed: {set(directory._containers)}")

    engine.during_second_list = changes_while_listing
    try:
        assert set(directory.running()) == {"stays", "stops"}
        wait_until(lambda: engine.lists >= 3, 10, lambda: "the refresh did not list again")
        # the second list saw "stops" running and not "starts": the events that came during it win
        assert set(directory.running()) == {"stays", "starts"}
    finally:
        engine.later_lists.set()
        engine.events_queue.put(None)


def test_a_stream_that_ends_makes_the_next_scrape_reconnect_and_list_again():
    engine = RacingEngine(["a"])
    directory = ContainerDirectory(lambda: engine, refresh_seconds=3600)
    assert set(directory.running()) == {"a"}
    engine.events_queue.put(None)  # the daemon restarted: its stream ends
    wait_until(lambda: not directory.live, 10, lambda: "the directory did not notice the stream end")
    engine.running["b"] = document("b")  # started while no stream was followed
    try:
        assert set(directory.running()) == {"a", "b"}
    finally:
        engine.events_queue.put(None)
