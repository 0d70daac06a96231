"""Bulk work gives way to the requests in flight in its worker, and never waits
for them for long."""

from __future__ import annotations

import threading
import time

import pytest

from modelwatch.model_service import priority


@pytest.fixture(autouse=True)
def balanced():
    """Each test starts and ends with no request counted in this process."""
    assert priority.in_worker() == 0
    yield
    assert priority.in_worker() == 0


def test_with_only_its_own_request_in_the_worker_it_does_not_wait(monkeypatch):
    waits = []
    monkeypatch.setattr(priority.time, "sleep", waits.append)
    priority.arrived()  # the caller's own request
    priority.give_way()
    priority.done()
    assert waits == [0]  # the GIL offered, no wait


def test_it_waits_until_the_other_request_is_answered():
    priority.arrived()  # the caller's
    priority.arrived()  # a prediction in the same worker
    answered = threading.Event()

    def answer():
        time.sleep(priority.MAX_WAIT_SECONDS / 5)
        answered.set()
        priority.done()

    threading.Thread(target=answer).start()
    priority.give_way()
    assert answered.is_set()
    priority.done()


def test_a_request_that_never_ends_delays_each_turn_by_the_bound_only():
    priority.arrived()
    priority.arrived()  # stuck (a slow client, say)
    started = time.monotonic()
    for _ in range(3):
        priority.give_way()
    waited = time.monotonic() - started
    priority.done()
    priority.done()
    assert waited >= 3 * priority.MAX_WAIT_SECONDS
    assert waited < 3 * priority.MAX_WAIT_SECONDS + 10  # bounded, with room for a busy machine


def test_counting_from_many_threads_stays_balanced():
    def requests():
        for _ in range(10_000):
            priority.arrived()
            priority.done()

    threads = [threading.Thread(target=requests) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # the fixture checks the count is back at zero
