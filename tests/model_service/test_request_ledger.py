"""The request ledger: busy slots survive the worker's death, idle ones do not count."""

from __future__ import annotations

import os
import signal
import threading
import time

from modelwatch.model_service.request_ledger import SLOTS, RequestLedger, ledger_file, take_lost_requests


def test_a_request_in_flight_is_read_back_with_its_route_and_a_finished_one_is_not(tmp_path):
    ledger = RequestLedger(tmp_path)
    ledger.queued()
    ledger.started()
    ledger.request("POST")
    ledger.routed("/api/v1/models/<name>/predict")
    time.sleep(0.05)
    [lost] = take_lost_requests(tmp_path, os.getpid())
    assert lost.method == "POST" and lost.route == "/api/v1/models/<name>/predict" and lost.seconds >= 0.05
    assert not ledger_file(tmp_path, os.getpid()).exists()  # taken once

    ledger = RequestLedger(tmp_path)
    ledger.queued(), ledger.queued()
    ledger.started()  # picked up, not parsed yet
    other = threading.Thread(target=lambda: (ledger.started(), ledger.request("GET"), ledger.finished()))
    other.start()
    other.join()
    assert [(r.method, r.route) for r in take_lost_requests(tmp_path, os.getpid())] == [("_OTHER", "unmatched")]


def test_connections_queued_and_never_picked_up_are_lost_requests_too(tmp_path):
    ledger = RequestLedger(tmp_path)
    for _ in range(5):
        ledger.queued()
    for _ in range(2):  # one thread answers two of them
        ledger.started(), ledger.request("GET"), ledger.finished()
    lost = take_lost_requests(tmp_path, os.getpid())
    assert [(r.method, r.route, r.seconds) for r in lost] == [("_OTHER", "unmatched", 0.0)] * 3


def test_the_slots_of_a_process_killed_mid_request_are_read_by_its_parent(tmp_path):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the "worker": two threads in flight, one finished
        try:
            ledger = RequestLedger(tmp_path)
            gate = threading.Barrier(3)

            def request(route, finish):
                ledger.started()
                ledger.request("POST")
                ledger.routed(route)
                if finish:
                    ledger.finished()
                gate.wait()

            for route, finish in (("/a", False), ("/b", True)):
                threading.Thread(target=request, args=(route, finish), daemon=True).start()
            ledger.started()
            ledger.request("GET")
            gate.wait()
            os.write(write, b"x")
            time.sleep(60)
        finally:
            os._exit(1)
    os.read(read, 1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    lost = take_lost_requests(tmp_path, pid)
    assert sorted((r.method, r.route) for r in lost) == [("GET", "unmatched"), ("POST", "/a")]


def test_a_file_of_another_size_is_not_read_as_a_ledger(tmp_path):
    ledger_file(tmp_path, 4242).write_bytes(b"\x01" * 100)
    assert take_lost_requests(tmp_path, 4242) == []


def test_more_threads_than_slots_go_unrecorded_without_failing(tmp_path):
    ledger = RequestLedger(tmp_path)
    threads = [threading.Thread(target=ledger.started) for _ in range(SLOTS + 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(take_lost_requests(tmp_path, os.getpid())) == SLOTS


def test_a_worker_without_a_ledger_lost_nothing(tmp_path):
    assert take_lost_requests(tmp_path, 999_999_999) == []
    assert take_lost_requests(tmp_path / "removed-folder", 1) == []


def test_a_ledger_that_cannot_be_made_records_nothing_and_fails_nothing(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    ledger = RequestLedger(blocked)
    ledger.queued()
    ledger.started()
    ledger.request("GET")
    ledger.routed("/x")
    ledger.finished()
    assert take_lost_requests(blocked, os.getpid()) == []
