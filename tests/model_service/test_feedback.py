"""Judging labels against their prediction ids, and remembering which were labelled:
malformed items refuse the request, unknown/expired/duplicate ones are answered per item,
two processes claiming one id count it once, and a broken store records nothing."""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat
import threading
import time

import pytest

from modelwatch.model_service.feedback import (
    ACCEPTED, DUPLICATE, EXPIRED, UNKNOWN_ID, InvalidFeedback, LabelledIds, LabelStoreUnavailable, judge)
from modelwatch.model_service.prediction_ids import InvalidPredictionId, PredictionIds

DAY = 86400.0
NOW = 1_800_000_000.0
HORIZON = 14 * DAY
IDS = PredictionIds(b"k" * 32)
CLASSES = {"v1": ["Adelie", "Gentoo", "Chinstrap"], "v2": ["Adelie", "Gentoo", "Chinstrap"]}


def penguins(version):
    return CLASSES[version]  # KeyError for a version no longer registered


def issued(output="Adelie", version="v1", model="penguins", age=60.0):
    return IDS.issue(model, version, output, issued=NOW - age)


def judged(items, label_kind=penguins, model="penguins"):
    return judge(items, IDS, model, label_kind, HORIZON, now=NOW)


def test_a_label_is_joined_to_what_was_predicted():
    [item] = judged([{"id": issued("Gentoo", age=3 * DAY), "label": "Adelie"}])
    assert item.outcome == ACCEPTED
    assert (item.prediction.output, item.prediction.version, item.actual) == ("Gentoo", "v1", "Adelie")
    assert NOW - item.prediction.issued == pytest.approx(3 * DAY, abs=0.01)


def test_ids_that_are_forged_of_another_model_or_of_a_removed_version_are_unknown():
    forged = issued()[:-3] + "abc"
    other_key = PredictionIds(b"x" * 32).issue("penguins", "v1", "Adelie", issued=NOW)
    outcomes = judged([{"id": forged, "label": "Adelie"}, {"id": other_key, "label": "Adelie"},
                       {"id": "not-an-id", "label": "Adelie"}, {"id": issued(model="iris"), "label": "Adelie"},
                       {"id": issued(version="v9"), "label": "Adelie"}])
    assert [item.outcome for item in outcomes] == [UNKNOWN_ID] * 5
    assert "iris" in outcomes[3].reason and "v9" in outcomes[4].reason


def test_each_version_is_described_once_a_request_removed_ones_included():
    asked = []

    def counting(version):
        asked.append(version)
        return penguins(version)

    items = [{"id": issued(version=v), "label": "Adelie"} for v in ("v1", "v9", "v1", "v9", "v2", "v9")]
    outcomes = [item.outcome for item in judged(items, label_kind=counting)]
    assert outcomes == [ACCEPTED, UNKNOWN_ID, ACCEPTED, UNKNOWN_ID, ACCEPTED, UNKNOWN_ID]
    assert asked == ["v1", "v9", "v2"]


def test_an_id_with_characters_no_id_has_is_unknown_not_an_error():
    # Schemathesis found it: hmac refuses to compare non-ASCII text (a 500 before).
    real = issued()
    outcomes = judged([{"id": real[:-1] + "é", "label": "Adelie"}, {"id": "\u00a0.\u00a0", "label": "Adelie"}])
    assert [item.outcome for item in outcomes] == [UNKNOWN_ID] * 2


def test_labels_past_the_horizon_or_from_the_future_are_expired():
    outcomes = judged([{"id": issued(age=HORIZON + 60), "label": "Adelie"},
                       {"id": issued(age=-3600), "label": "Adelie"},  # an hour ahead: more than clock skew
                       {"id": issued(age=HORIZON - 60), "label": "Adelie"}])
    assert [item.outcome for item in outcomes] == [EXPIRED, EXPIRED, ACCEPTED]


@pytest.mark.parametrize("item, reason", [
    ({"id": 3, "label": "Adelie"}, 'string "id"'),
    ("Adelie", 'string "id"'),
    ({"id": None}, 'string "id"'),
    ({"label": "Adelie"}, 'string "id"'),
])
def test_malformed_items_refuse_the_whole_request(item, reason):
    with pytest.raises(InvalidFeedback) as caught:
        judged([{"id": issued(), "label": "Adelie"}, item])
    assert caught.value.problems[0][0] == 1 and reason in caught.value.problems[0][1]


@pytest.mark.parametrize("label", ["Emperor", "", None, True, 1.5, ["Adelie"], {"a": 1}])
def test_a_class_the_model_does_not_know_is_refused_naming_the_item(label):
    with pytest.raises(InvalidFeedback) as caught:
        judged([{"id": issued(), "label": "Adelie"}, {"id": issued(), "label": "Gentoo"},
                {"id": issued(), "label": label}])
    assert [index for index, _ in caught.value.problems] == [2]
    assert "item 2" in str(caught.value)


@pytest.mark.parametrize("value, accepted", [
    (3.5, True), (0, True), (-1e150, True), (-1e300, False),
    (float("nan"), False), (float("inf"), False), (10 ** 400, False), ("3.5", False), (True, False), (None, False),
])
def test_a_regressors_value_must_be_a_finite_number(value, accepted):
    items = [{"id": issued(output=2.0), "value": value}]
    if accepted:
        assert judged(items, label_kind=lambda version: None)[0].actual == float(value)
    else:
        with pytest.raises(InvalidFeedback):
            judged(items, label_kind=lambda version: None)


def test_many_bad_items_are_summed_up_in_one_line():
    with pytest.raises(InvalidFeedback) as caught:
        judged([{"id": issued(), "label": "Emperor"} for _ in range(40)])
    message = str(caught.value)
    assert len(caught.value.problems) == 40 and "\n" not in message and "and 35 more" in message


def test_a_label_sent_twice_counts_once_even_within_one_request(tmp_path):
    store = LabelledIds(tmp_path / "feedback" / "labelled.sqlite", HORIZON)
    token = issued()
    first = store.claim(judged([{"id": token, "label": "Adelie"}, {"id": token, "label": "Gentoo"}]), now=NOW)
    assert [item.outcome for item in first] == [ACCEPTED, DUPLICATE]
    again = store.claim(judged([{"id": token, "label": "Adelie"}]), now=NOW)
    assert again[0].outcome == DUPLICATE
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_the_record_outlives_the_process_that_wrote_it(tmp_path):
    path = tmp_path / "labelled.sqlite"
    token = issued()
    LabelledIds(path, HORIZON).claim(judged([{"id": token, "label": "Adelie"}]), now=NOW)
    assert LabelledIds(path, HORIZON).claim(judged([{"id": token, "label": "Adelie"}]), now=NOW)[0].outcome == DUPLICATE


def _claim_all(path, tokens, barrier, results):
    store = LabelledIds(path, HORIZON)
    barrier.wait()
    items = judge([{"id": token, "label": "Adelie"} for token in tokens], IDS, "penguins", penguins, HORIZON, now=NOW)
    results.put(sum(item.outcome == ACCEPTED for item in store.claim(items, now=NOW)))


def test_workers_racing_on_the_same_ids_accept_each_exactly_once(tmp_path):
    path = tmp_path / "labelled.sqlite"
    tokens = [issued(age=float(i)) for i in range(200)]
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(8), context.Queue()
    workers = [context.Process(target=_claim_all, args=(path, tokens, barrier, results)) for _ in range(8)]
    for worker in workers:
        worker.start()
    accepted = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(60)
    assert sum(accepted) == len(tokens)


def test_ids_past_the_horizon_are_forgotten(tmp_path):
    store = LabelledIds(tmp_path / "labelled.sqlite", HORIZON)
    old, recent = issued(age=HORIZON - 10), issued(age=10)
    store.claim(judged([{"id": old, "label": "Adelie"}, {"id": recent, "label": "Adelie"}]), now=NOW)
    store._pruned = 0.0  # an hour has passed
    store.claim([], now=NOW + DAY)
    remaining = sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM claimed").fetchone()[0]
    assert remaining == 1  # the recent one: it could still be sent again within the horizon


def write_old_format(path, claimed: str) -> None:
    """A record as written before 2026-12-02: ``labelled (id PRIMARY KEY, issued)``, ``claimed`` in it."""
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE labelled (id TEXT PRIMARY KEY, issued REAL NOT NULL) WITHOUT ROWID")
    old.execute("INSERT INTO labelled VALUES (?, ?)", (claimed.rsplit(".", 1)[1], IDS.read(claimed).issued))
    old.commit()
    old.close()


def test_a_record_keyed_by_signature_alone_is_moved_over_and_its_ids_stay_claimed(tmp_path):
    """Files written before 2026-12-02 kept the ids in ``labelled (id PRIMARY KEY, issued)``."""
    path = tmp_path / "labelled.sqlite"
    before, other = issued(age=100), issued(age=50)
    write_old_format(path, before)
    outcomes = [item.outcome for item in LabelledIds(path, HORIZON).claim(
        judged([{"id": before, "label": "Adelie"}, {"id": other, "label": "Adelie"}]), now=NOW)]
    assert outcomes == [DUPLICATE, ACCEPTED]
    tables = {name for (name,) in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"claimed"}


def test_workers_opening_an_older_file_at_once_convert_it_once_and_agree(tmp_path):
    """Workers start together: each opens the file and finds the old table. One converts it inside
    its transaction; the others wait for it and find it done. An id claimed before stays claimed,
    and a new id sent to every worker at once is accepted by exactly one."""
    path = tmp_path / "labelled.sqlite"
    before, new = issued(age=100), issued(age=50)
    write_old_format(path, before)
    workers = 4
    start, outcomes, errors = threading.Barrier(workers), [], []

    def worker():
        store = LabelledIds(path, HORIZON)  # each its own connection, as each gunicorn worker has
        start.wait()
        try:
            outcomes.append([item.outcome for item in store.claim(
                judged([{"id": before, "label": "Adelie"}, {"id": new, "label": "Adelie"}]), now=NOW)])
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(outcomes) == [[DUPLICATE, ACCEPTED]] + [[DUPLICATE, DUPLICATE]] * (workers - 1)
    tables = {name for (name,) in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"claimed"}


def test_a_thousand_ids_in_one_request_are_claimed_once_each_in_any_order(tmp_path):
    """The ids go in by statements of many rows: each is still answered for itself."""
    store = LabelledIds(tmp_path / "labelled.sqlite", HORIZON)
    tokens = [issued(age=age) for age in range(1000, 0, -1)]
    first = store.claim(judged([{"id": t, "label": "Adelie"} for t in tokens[:600]]), now=NOW)
    mixed = tokens[300:] + tokens[::-1][:5]  # 300 claimed before, 400 new, then 5 repeats of new ones
    second = store.claim(judged([{"id": t, "label": "Adelie"} for t in mixed]), now=NOW)
    assert [item.outcome for item in first] == [ACCEPTED] * 600
    assert [item.outcome for item in second] == [DUPLICATE] * 300 + [ACCEPTED] * 400 + [DUPLICATE] * 5
    assert [item.index for item in second] == list(range(len(mixed)))


def test_an_unwritable_store_records_nothing_and_says_so(tmp_path):
    folder = tmp_path / "feedback"
    folder.mkdir()
    (folder / "labelled.sqlite").write_text("this is not a database")
    store = LabelledIds(folder / "labelled.sqlite", HORIZON)
    with pytest.raises(LabelStoreUnavailable, match="cannot be used"):
        store.claim(judged([{"id": issued(), "label": "Adelie"}]), now=NOW)


def test_a_store_whose_folder_cannot_be_made_fails_cleanly(tmp_path):
    (tmp_path / "file").write_text("")
    store = LabelledIds(tmp_path / "file" / "labelled.sqlite", HORIZON)  # a file where the folder should be
    with pytest.raises(LabelStoreUnavailable):
        store.claim(judged([{"id": issued(), "label": "Adelie"}]), now=NOW)


def test_ids_issued_together_read_back_as_the_rows_predicted_each_its_own():
    outputs = ["Adelie", "Gentoo", "Adelie", 3.25]
    ids = IDS.issue_many("penguins", "v2", outputs)
    assert len(set(ids)) == len(outputs)  # two rows predicted alike are still two predictions
    read = [IDS.read(token) for token in ids]
    assert [(p.model, p.version, p.output) for p in read] == [("penguins", "v2", o) for o in outputs]
    assert len({p.issued for p in read}) == 1 and abs(read[0].issued - time.time()) < 5
    with pytest.raises(InvalidPredictionId):
        IDS.read(ids[0][:-2] + ("AA" if not ids[0].endswith("AA") else "BB"))


def test_ids_are_signed_with_hmac_sha256_so_ids_issued_before_still_read():
    """The signature is HMAC-SHA256 of the payload, truncated, whatever computes it: an id
    signed with hmac.digest as the service did until 2026-12-01 is still read, and the other way round."""
    import base64
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    payload = b64(b'["penguins","v1","Adelie",1800000000.0,"abc1"]')
    old = f"{payload}.{b64(hmac.digest(b'k' * 32, payload.encode(), 'sha256')[:16])}"
    assert IDS.read(old).output == "Adelie"
    token = IDS.issue("penguins", "v1", "Gentoo", issued=NOW)
    body, signature = token.split(".")
    assert signature == b64(hmac.digest(b"k" * 32, body.encode(), "sha256")[:16])
