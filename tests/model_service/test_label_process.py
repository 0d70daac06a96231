"""Labels judged in a child process: the same outcomes as judging in the worker,
at the lowest CPU priority, the key never on its command line; a child that
dies, hangs or fails is replaced and its request answered as unavailable; the
threads of a worker share one child, and a forked worker starts its own."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest

from modelwatch.model_service.feedback import (
    ACCEPTED, DUPLICATE, UNKNOWN_ID, InvalidFeedback, LabelledIds, LabelStoreUnavailable, answers, judge, tally)
from modelwatch.model_service.label_process import NICENESS, LabelProcess
from modelwatch.model_service.prediction_ids import PredictionIds

KEY = b"label-process-test-key-32-bytes!"
IDS = PredictionIds(KEY)
HORIZON = 14 * 86400.0
CLASSES = ["Adelie", "Gentoo", "Chinstrap"]


def penguins(version):
    if version != "v1":
        raise KeyError(version)  # v2 is no longer registered
    return CLASSES


def items(count, version="v1", output="Adelie"):
    return [{"id": IDS.issue("penguins", version, output), "label": CLASSES[i % 3]} for i in range(count)]


@pytest.fixture
def labels(tmp_path):
    process = LabelProcess(KEY, tmp_path / "labelled.sqlite", HORIZON, timeout_seconds=20)
    yield process
    process.close()


def wait_until_exited(pid, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True  # reaped already (the finalizer waits for it)
        if waited:
            return True
        time.sleep(0.02)
    return False


def test_the_child_answers_what_judging_in_the_worker_answers(labels, tmp_path):
    sent = items(20) + items(3, version="v2") + [{"id": "forged.id", "label": "Adelie"}]
    sent.append(dict(sent[0]))  # a repeat within the request
    taken = labels.take("penguins", sent, penguins)
    here = LabelledIds(tmp_path / "here.sqlite", HORIZON).claim(judge(sent, IDS, "penguins", penguins, HORIZON))
    assert taken.answers == answers(here)
    expected = tally(here, time.time())
    assert (taken.tally.outcomes, taken.tally.confusion) == (expected.outcomes, expected.confusion)
    assert taken.tally.accepted == 20 and taken.tally.outcomes["v1", DUPLICATE] == 1
    assert taken.tally.outcomes["v2", UNKNOWN_ID] == 3 and taken.tally.outcomes["", UNKNOWN_ID] == 1
    assert all(0 <= delay < 60 for delay in taken.tally.delays["v1"])


def test_it_runs_at_the_lowest_priority_and_the_key_is_not_on_its_command_line(labels):
    labels.take("penguins", items(1), penguins)
    child = labels.child_pid
    assert child is not None and child != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, child) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICENESS)
    for place in ("cmdline", "environ"):
        with open(f"/proc/{child}/{place}", "rb") as shown:
            assert KEY not in shown.read()


def test_a_regressors_errors_are_tallied(labels):
    sent = [{"id": IDS.issue("diabetes", "v1", 150.0), "value": 120.0},
            {"id": IDS.issue("diabetes", "v1", 80.0), "value": 100.0}]
    taken = labels.take("diabetes", sent, lambda version: None)
    assert taken.tally.errors == {"v1": [30.0, -20.0]} and taken.tally.confusion == {}


def test_malformed_items_refuse_the_request_and_record_nothing(labels):
    sent = items(5)
    with pytest.raises(InvalidFeedback) as caught:
        labels.take("penguins", sent + [{"id": sent[0]["id"], "label": "Emperor"}], penguins)
    assert [index for index, _ in caught.value.problems] == [5]
    assert labels.take("penguins", sent, penguins).tally.accepted == 5  # none were recorded


def test_a_record_that_cannot_be_used_is_unavailable_and_counts_nothing(tmp_path):
    (tmp_path / "file").write_text("a file where the record's folder should be")
    labels = LabelProcess(KEY, tmp_path / "file" / "labelled.sqlite", HORIZON, timeout_seconds=20)
    try:
        with pytest.raises(LabelStoreUnavailable, match="nothing was counted"):
            labels.take("penguins", items(2), penguins)
    finally:
        labels.close()


def test_a_child_killed_between_requests_is_replaced_without_failing_one(labels):
    labels.take("penguins", items(1), penguins)
    first = labels.child_pid
    os.kill(first, signal.SIGKILL)
    assert wait_until_exited(first)
    assert labels.take("penguins", items(4), penguins).tally.accepted == 4
    assert labels.child_pid not in (None, first)


def test_a_child_killed_during_a_request_answers_unavailable_and_the_next_starts_again(labels):
    labels.take("penguins", items(1), penguins)

    def dying(version):
        os.kill(labels.child_pid, signal.SIGKILL)  # while the child waits for this answer
        return penguins(version)

    with pytest.raises(LabelStoreUnavailable, match="stopped"):
        labels.take("penguins", items(3), dying)
    assert labels.take("penguins", items(3), penguins).tally.accepted == 3


def test_a_child_that_stops_answering_is_killed_after_the_timeout(tmp_path):
    labels = LabelProcess(KEY, tmp_path / "labelled.sqlite", HORIZON, timeout_seconds=0.5)
    try:
        labels.take("penguins", items(1), penguins)
        stuck = labels.child_pid
        os.kill(stuck, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(LabelStoreUnavailable, match="no answer in 0.5 s"):
            labels.take("penguins", items(2), penguins)
        assert time.monotonic() - started < 10
        assert wait_until_exited(stuck)
        assert labels.take("penguins", items(2), penguins).tally.accepted == 2
    finally:
        labels.close()


def test_a_failure_in_the_child_is_an_error_and_the_child_serves_on(labels):
    with pytest.raises(RuntimeError, match="TypeError"):
        labels.take("penguins", items(2), lambda version: 5)  # not a list of classes: a bug, not bad input
    first = labels.child_pid
    assert labels.take("penguins", items(2), penguins).tally.accepted == 2
    assert labels.child_pid == first


def test_a_worker_failing_to_describe_a_version_leaves_no_child_out_of_step(labels):
    def broken(version):
        raise RuntimeError("the registry could not be read")

    with pytest.raises(RuntimeError, match="registry"):
        labels.take("penguins", items(2), broken)
    assert labels.take("penguins", items(2), penguins).tally.accepted == 2  # not a reply to the question before


def test_threads_share_one_child_and_an_id_sent_by_two_counts_once(labels):
    shared = items(50)
    outcomes, errors = [], []

    def send():
        try:
            taken = labels.take("penguins", shared + items(50), penguins)
            outcomes.extend(answer["outcome"] for answer in taken.answers)
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert outcomes.count(ACCEPTED) == 50 + 6 * 50 and outcomes.count(DUPLICATE) == 5 * 50


def _take_in_a_fork(labels, sent, results):
    taken = labels.take("penguins", sent, penguins)
    results.put((labels.child_pid, taken.tally.accepted))


def test_a_forked_worker_starts_a_child_of_its_own(labels):
    labels.take("penguins", items(1), penguins)
    parents = labels.child_pid
    results = multiprocessing.get_context("fork").Queue()
    forked = multiprocessing.get_context("fork").Process(target=_take_in_a_fork, args=(labels, items(3), results))
    forked.start()
    child_of_fork, accepted = results.get(timeout=60)
    forked.join(60)
    assert accepted == 3 and child_of_fork not in (None, parents)
    assert labels.take("penguins", items(2), penguins).tally.accepted == 2 and labels.child_pid == parents


def _take_and_die(record, results):
    labels = LabelProcess(KEY, record, HORIZON, timeout_seconds=20)
    labels.take("penguins", items(1), penguins)
    results.send(labels.child_pid)  # a pipe: sent before the exit, where a queue's thread may not be
    os._exit(0)  # as a worker killed with SIGKILL: no finalizer, only its socket closes


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # exited, not yet reaped by its new parent
    except FileNotFoundError:
        return True


def test_the_child_of_a_worker_that_dies_exits(tmp_path):
    received, results = multiprocessing.Pipe(duplex=False)
    worker = multiprocessing.get_context("fork").Process(target=_take_and_die,
                                                         args=(tmp_path / "labelled.sqlite", results))
    worker.start()
    assert received.poll(60)
    child = received.recv()
    worker.join(60)
    deadline = time.monotonic() + 20
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(child)


def test_closing_stops_the_child(tmp_path):
    labels = LabelProcess(KEY, tmp_path / "labelled.sqlite", HORIZON, timeout_seconds=20)
    labels.take("penguins", items(1), penguins)
    child = labels.child_pid
    labels.close()
    assert labels.child_pid is None and gone(child)
    assert labels.take("penguins", items(1), penguins).tally.accepted == 1  # a closed one starts again when used
    labels.close()
