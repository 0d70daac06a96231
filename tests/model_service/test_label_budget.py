"""A worker's label budget: requests taken whole while it is above zero, refused
with the seconds until it is repaid, never more than one second's worth saved
up, and the same count however many threads ask at once."""

from __future__ import annotations

import threading

import pytest

from modelwatch.model_service.label_budget import LabelBudget, retry_after


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_request_is_taken_while_the_budget_is_above_zero_and_may_run_it_into_debt():
    clock = Clock()
    budget = LabelBudget(100, clock)
    assert budget.admit(60) == 0 and budget.admit(60) == 0  # 100 -> 40 -> -20
    assert budget.admit(1) == pytest.approx(0.2)  # 20 labels of debt at 100 a second
    clock.now += 0.1
    assert budget.admit(1) == pytest.approx(0.1)  # refused requests cost nothing
    clock.now += 0.1001
    assert budget.admit(1000) == 0  # a batch larger than a second's worth still gets through
    assert budget.admit(1) == pytest.approx(10.0, abs=0.01)  # its 1,000 labels repaid at 100 a second


def test_an_idle_worker_saves_up_at_most_one_seconds_worth():
    clock = Clock()
    budget = LabelBudget(50, clock)
    clock.now += 3600
    taken = 0
    while budget.admit(10) == 0:
        taken += 10
    assert taken == 50


def test_a_budget_of_zero_takes_everything():
    budget = LabelBudget(0)
    assert all(budget.admit(10**9) == 0 for _ in range(1000))


def test_threads_racing_for_the_budget_take_exactly_what_it_holds():
    clock = Clock()  # frozen: nothing refills during the race
    budget = LabelBudget(1000, clock)
    taken, start = [], threading.Barrier(8)

    def ask():
        start.wait()
        for _ in range(200):
            if budget.admit(10) == 0:
                taken.append(10)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(taken) == 1000


@pytest.mark.parametrize("seconds, header", [(1e-3, "1"), (0.5, "1"), (1.0, "1"), (1.01, "2"), (29.2, "30")])
def test_retry_after_rounds_up_to_whole_seconds(seconds, header):
    assert retry_after(seconds) == header


def test_asking_whether_to_wait_charges_nothing():
    clock = Clock()
    budget = LabelBudget(10, clock)
    assert all(budget.wait() == 0 for _ in range(100))
    assert budget.admit(15) == 0  # 10 -> -5
    assert budget.wait() == pytest.approx(0.5)
    clock.now += 0.6
    assert budget.wait() == 0 and LabelBudget(0).wait() == 0


@pytest.mark.integration
def test_a_kept_alive_client_over_budget_gets_every_429_on_its_connection(state_dir, keys, monkeypatch):
    # Real gunicorn: answering before a large body is read would reset the connection under the client.
    import json

    import requests

    from tests.model_service.served import serve

    monkeypatch.setenv("MODELWATCH_FEEDBACK__MAX_LABELS_PER_SECOND", "1")
    body = json.dumps({"feedback": [{"id": "x" * 60, "label": "Iris setosa"}] * 1000})
    statuses, errors = [], []
    with serve(state_dir, workers=1) as (base, _), requests.Session() as session:
        for _ in range(100):
            try:
                statuses.append(session.post(f"{base}/api/v1/models/iris/feedback", data=body, timeout=30,
                                             headers={"X-API-Key": keys["user"],
                                                      "Content-Type": "application/json"}).status_code)
            except requests.ConnectionError as exc:
                errors.append(exc)
    assert not errors, f"{len(errors)} of 100 requests lost their connection: {errors[0]}"
    assert statuses.count(429) >= 95 and set(statuses) <= {200, 429}
