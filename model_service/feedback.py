"""Labels that arrive later, joined to their predictions by prediction id.

A prediction id carries what was predicted, signed (``prediction_ids``), so
any worker of any replica can join a label to it with no database of
predictions. What does need remembering is which ids were labelled already,
so that a label sent twice is counted once: ``LabelledIds`` keeps them in a
SQLite file in the state folder, shared by the workers of a service and kept
across restarts, for as long as a label is accepted at all (the horizon).

    judged = judge(items, ids, "penguins", label_kind, horizon_seconds=14 * 86400)
    accepted = LabelledIds(path, horizon).claim(judged)   # the duplicates turned into "duplicate"

Items are judged in two steps. A malformed item (not an object, no id, a
class the model does not know, a non-finite value) is the caller's mistake:
the whole request is refused, naming the items, and nothing is recorded. An
id that is unknown, expired or already labelled is a fact about that one
item: it is answered and counted, and the others are accepted.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from modelwatch.core.errors import ModelwatchError
from modelwatch.model_service.prediction_ids import InvalidPredictionId, Prediction, PredictionIds

ACCEPTED, DUPLICATE, UNKNOWN_ID, EXPIRED = "accepted", "duplicate", "unknown_id", "expired"
OUTCOMES = (ACCEPTED, DUPLICATE, UNKNOWN_ID, EXPIRED, "invalid")  # the feedback counter's values
CLOCK_SKEW_SECONDS = 300  # an id issued "in the future" by a replica whose clock runs ahead
REMOVED = object()  # a version the service can no longer describe, remembered within one request
CLAIM_ROWS = 250  # ids recorded by one statement (two parameters each: far below SQLite's 32,766)


class InvalidFeedback(ModelwatchError):
    """The request is refused: ``problems`` names each bad item (index and reason)."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        shown = "; ".join(f"item {index}: {reason}" for index, reason in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} invalid feedback item(s): {shown}{more}")


class LabelStoreUnavailable(ModelwatchError):
    """The record of labelled ids cannot be read or written: nothing was counted; send again later."""


@dataclass(frozen=True)
class Judged:
    index: int
    token: str
    outcome: str  # ACCEPTED (until the store says DUPLICATE), UNKNOWN_ID or EXPIRED
    prediction: Prediction | None = None
    actual: str | float | None = None  # the class, or the true value of a regressor
    reason: str = ""


# What a model version expects as a label: its classes, or None for a regressor's number; raises
# KeyError for a version the service cannot describe (never registered, or removed).
LabelKind = Callable[[str], "Sequence[str] | None"]


def _actual(item: dict, classes: Sequence[str] | None) -> str | float:
    """The item's label, checked against what the version predicts; ValueError says why not."""
    if classes is not None:
        if "label" not in item:
            raise ValueError('a classifier\'s feedback needs "label"')
        label = item["label"]
        if isinstance(label, bool) or not isinstance(label, (str, int)) or str(label) not in classes:
            raise ValueError(f"label {str(label)[:50]!r} is not a class of this model ({', '.join(classes[:10])})")
        return str(label)
    if "value" not in item:
        raise ValueError('a regressor\'s feedback needs "value"')
    value = item["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("value must be a number")
    try:
        value = float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise ValueError("value is out of range") from None
    if not math.isfinite(value):
        raise ValueError("value must be finite")
    return value


def judge(items: list, ids: PredictionIds, model: str, label_kind: LabelKind, horizon_seconds: float,
          now: float | None = None) -> list[Judged]:
    """Each item's outcome before the duplicate check, or InvalidFeedback naming every malformed item."""
    now = time.time() if now is None else now
    judged, problems = [], []
    kinds: dict[str, object] = {}  # per version (a request's labels are mostly of one or two), REMOVED too
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            problems.append((index, 'expected an object with a string "id"'))
            continue
        token = item["id"]
        try:
            prediction = ids.read(token)
        except InvalidPredictionId as exc:
            judged.append(Judged(index, token, UNKNOWN_ID, reason=str(exc)))
            continue
        if prediction.model != model:
            judged.append(Judged(index, token, UNKNOWN_ID, reason=f"an id of model {prediction.model}, not {model}"))
            continue
        version = prediction.version
        if version not in kinds:
            try:
                kinds[version] = label_kind(version)
            except KeyError:
                kinds[version] = REMOVED
        classes = kinds[version]
        if classes is REMOVED:
            judged.append(Judged(index, token, UNKNOWN_ID, prediction,
                                 reason=f"version {version} of {model} is no longer registered"))
            continue
        try:
            actual = _actual(item, classes)
            if classes is None and not math.isfinite((float(prediction.output) - actual) ** 2):
                raise ValueError("value is too far from the prediction for its squared error to be counted")
        except (ValueError, OverflowError) as exc:
            problems.append((index, str(exc) if isinstance(exc, ValueError) else "value is out of range"))
            continue
        age = now - prediction.issued
        if age > horizon_seconds or age < -CLOCK_SKEW_SECONDS:
            judged.append(Judged(index, token, EXPIRED, prediction, actual,
                                 reason=f"predicted {age / 86400:.1f} days ago; labels are taken for "
                                        f"{horizon_seconds / 86400:g} days"))
            continue
        judged.append(Judged(index, token, ACCEPTED, prediction, actual))
    if problems:
        raise InvalidFeedback(problems)
    return judged


@dataclass
class FeedbackTally:
    """What a request's items add to the metrics, gathered where they were judged (``label_process``):
    a count or a column of numbers per touched series, so the worker makes one write per series."""

    outcomes: dict[tuple[str, str], int]  # (version, outcome): items; "" for an id naming no version
    delays: dict[str, list[float]]  # version: seconds from prediction to label, per accepted item
    confusion: dict[tuple[str, str, str], int]  # (version, predicted, actual): a classifier's accepted labels
    errors: dict[str, list[float]]  # version: predicted minus actual, per accepted label of a regressor

    @property
    def accepted(self) -> int:
        return sum(count for (_, outcome), count in self.outcomes.items() if outcome == ACCEPTED)


def tally(judged: list[Judged], now: float) -> FeedbackTally:
    counted = FeedbackTally({}, {}, {}, {})
    for item in judged:
        version = item.prediction.version if item.prediction else ""
        counted.outcomes[version, item.outcome] = counted.outcomes.get((version, item.outcome), 0) + 1
        if item.outcome != ACCEPTED:
            continue
        counted.delays.setdefault(version, []).append(max(0.0, now - item.prediction.issued))
        if isinstance(item.actual, str):
            pair = (version, str(item.prediction.output), item.actual)
            counted.confusion[pair] = counted.confusion.get(pair, 0) + 1
        else:
            counted.errors.setdefault(version, []).append(float(item.prediction.output) - item.actual)
    return counted


def answers(judged: list[Judged]) -> list[dict]:
    """The response's word on each item, in order."""
    found = []
    for item in judged:
        answer = {"index": item.index, "outcome": item.outcome}
        if item.prediction is not None:
            answer["model_version"] = item.prediction.version
        if item.reason:
            answer["reason"] = item.reason
        found.append(answer)
    return found


class LabelledIds:
    """The ids labelled within the horizon, in one SQLite file shared by the service's workers.

    Claiming an id is one ``INSERT OR IGNORE`` on its primary key, so of two workers claiming
    the same id at once exactly one succeeds; SQLite's file locks make that hold across
    processes. Each process opens its own connection per thread (connections do not survive
    a fork)."""

    PRUNE_EVERY_SECONDS = 3600.0

    def __init__(self, path: Path, horizon_seconds: float, busy_timeout_seconds: float = 5.0):
        self.path = Path(path)
        self.horizon_seconds = horizon_seconds
        self.busy_timeout_seconds = busy_timeout_seconds
        self._local = threading.local()
        self._pruned = 0.0

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout_seconds, isolation_level=None)
            self._enter_wal(connection)
            connection.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; a crash loses no file
            self._create(connection)
            os.chmod(self.path, 0o600)
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def _enter_wal(self, connection: sqlite3.Connection) -> None:
        """WAL: readers do not wait for the writer. Switching a file into it takes the file alone, and
        SQLite answers "locked" at once, not after its busy timeout, while another process opens it
        too (the workers, starting together): tried again until that timeout."""
        deadline = time.monotonic() + self.busy_timeout_seconds
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @staticmethod
    def _create(connection: sqlite3.Connection) -> None:
        """The table of claimed ids, keyed by (issued, signature) in one B-tree (WITHOUT ROWID).

        Time first: labels come roughly in the order of their predictions, so a request's inserts
        land on a few neighbouring pages, and pruning is a range at the start. Keyed by signature
        alone (before 2026-12-02), a thousand labels dirtied a thousand random pages of a growing
        file, and a flood slowed as its record grew; such a table is moved over once."""
        connection.execute("BEGIN IMMEDIATE")  # one worker migrates; the others then find it done
        try:
            connection.execute("CREATE TABLE IF NOT EXISTS claimed (issued REAL NOT NULL, id TEXT NOT NULL, "
                               "PRIMARY KEY (issued, id)) WITHOUT ROWID")
            if connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'labelled'").fetchone():
                connection.execute("INSERT OR IGNORE INTO claimed SELECT issued, id FROM labelled")
                connection.execute("DROP TABLE labelled")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def claim(self, judged: list[Judged], now: float | None = None) -> list[Judged]:
        """``judged`` with every accepted item already labelled before turned into DUPLICATE (a
        repeat within the request included). Nothing is recorded when the store fails."""
        now = time.time() if now is None else now
        # The signature names the id (it is a MAC of the rest): short, and unique.
        keys = {item.index: item.token.rsplit(".", 1)[1] for item in judged if item.outcome == ACCEPTED}
        try:
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                claimed = self._insert(connection, {(item.prediction.issued, key) for item in judged
                                                    if (key := keys.get(item.index)) is not None})
                if now - self._pruned > self.PRUNE_EVERY_SECONDS:
                    # Older ids are refused as expired before they get here: they need not be remembered.
                    connection.execute("DELETE FROM claimed WHERE issued < ?",
                                       (now - self.horizon_seconds - CLOCK_SKEW_SECONDS,))
                    self._pruned = now
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as exc:
            raise LabelStoreUnavailable(f"the record of labelled predictions ({self.path}) cannot be used: {exc}") \
                from None
        result = []
        for item in judged:
            key = keys.get(item.index)
            if key is not None:
                if key in claimed:
                    claimed.discard(key)  # the first of the request's repeats takes it
                else:
                    item = Judged(item.index, item.token, DUPLICATE, item.prediction, item.actual,
                                  reason="this prediction was labelled already")
            result.append(item)
        return result

    @staticmethod
    def _insert(connection: sqlite3.Connection, rows: set[tuple[float, str]]) -> set[str]:
        """The signatures newly recorded: one multi-row ``INSERT OR IGNORE ... RETURNING`` per
        CLAIM_ROWS (a statement per id cost as much again as judging them), in time order."""
        claimed: set[str] = set()
        rows = sorted(rows)
        for start in range(0, len(rows), CLAIM_ROWS):
            chunk = rows[start:start + CLAIM_ROWS]
            values = ", ".join(("(?, ?)",) * len(chunk))
            cursor = connection.execute(f"INSERT OR IGNORE INTO claimed VALUES {values} RETURNING id",
                                        [value for row in chunk for value in row])
            claimed.update(key for (key,) in cursor)
        return claimed
