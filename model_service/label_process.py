"""Labels judged in a process of their own, at the lowest CPU priority.

A thousand labels are some 15 ms of Python: each signed id read, each label
checked, the ids recorded in the SQLite record. Done in the worker, that held
the GIL the worker's predictions wait for and took their share of the cores:
a flood of 10,000 labels a second raised the prediction p99 by 35–45 %, even
with judging giving way every 50 labels. Here each worker starts one child
process (at its first feedback request), at nice 19, and only hands it the
items: the worker's own part is under a millisecond a thousand labels, and the
kernel runs the child when predictions leave a core free.

    labels = LabelProcess(key, record_path, horizon_seconds)
    taken = labels.take("iris", items, label_kind)   # Taken(answers, tally)

``take`` raises what judging in the worker raised: ``InvalidFeedback`` (the
request is refused, nothing recorded) and ``LabelStoreUnavailable`` (503). The
child asks the worker what a version takes as a label (the worker's models and
registry know it) and the worker answers, on the same socket pair, one request
at a time, as pickles: between a worker and the child it started, nothing else
can write to it. The signing key is the first message, never in the command
line or the environment. A child that dies, or answers nothing for
``timeout_seconds``, is killed and its request answered 503; it may have
recorded some of the labels, which sent again are answered ``duplicate`` (as
after a worker crash). The next request starts a new child; a child whose
worker is gone reads the end of its socket and exits.
"""

from __future__ import annotations

import logging
import multiprocessing.connection
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from modelwatch.model_service.feedback import (
    FeedbackTally, InvalidFeedback, LabelKind, LabelledIds, LabelStoreUnavailable, answers, judge, tally)
from modelwatch.model_service.prediction_ids import PredictionIds

log = logging.getLogger(__name__)
NICENESS = 19  # the lowest priority there is: predictions first, labels with what is left
UNKNOWN_VERSION = "unknown"  # the worker's answer for a version it cannot describe


@dataclass(frozen=True)
class Taken:
    answers: list[dict]  # per item, in order: index, outcome, model_version, reason
    tally: FeedbackTally


class LabelProcess:
    def __init__(self, key: bytes, record_path: Path, horizon_seconds: float, timeout_seconds: float = 60.0):
        self._start_message = ("start", key, str(record_path), horizon_seconds)
        self.timeout_seconds = timeout_seconds
        # This process's child and the lock its threads take turns with; made again after a fork.
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._connection: multiprocessing.connection.Connection | None = None
        self._finalizer: weakref.finalize | None = None

    def take(self, model: str, items: list, label_kind: LabelKind) -> Taken:
        self._after_a_fork()
        with self._lock:
            connection = self._started()
            try:
                connection.send(("take", model, items))
                while (reply := self._receive(connection))[0] == "kind?":
                    connection.send(_kind_of(label_kind, reply[1]))
            except (OSError, EOFError, TimeoutError) as exc:
                self._stop()
                raise LabelStoreUnavailable(f"the process judging labels stopped ({exc or type(exc).__name__}); "
                                            "labels of this request it had recorded answer duplicate when sent "
                                            "again") from None
            except BaseException:  # label_kind failed: the child still waits for its answer, out of step
                self._stop()
                raise
        if reply[0] == "taken":
            return Taken(reply[1], reply[2])
        if reply[0] == "invalid":
            raise InvalidFeedback(reply[1])
        if reply[0] == "unavailable":
            raise LabelStoreUnavailable(f"{reply[1]}; nothing was counted")
        raise RuntimeError(f"the process judging labels failed: {reply[1]}")

    @property
    def child_pid(self) -> int | None:
        return self._child.pid if self._child is not None and self._pid == os.getpid() else None

    def close(self) -> None:
        self._after_a_fork()
        with self._lock:
            self._stop()

    def _after_a_fork(self) -> None:
        if self._pid == os.getpid():
            return
        if self._finalizer is not None:  # the parent's child: not this process's to stop
            self._finalizer.detach()
            self._connection.close()  # this copy of its socket, or that child never reads the end
        self._pid, self._lock = os.getpid(), threading.Lock()
        self._child = self._connection = self._finalizer = None

    def _started(self) -> multiprocessing.connection.Connection:
        if self._child is not None and self._child.poll() is None:
            return self._connection
        if self._child is not None:  # died between requests (killed, out of memory): a new one, nothing lost
            log.warning("the process judging labels exited (%s); starting another", self._child.returncode)
            self._stop()
        ours, theirs = socket.socketpair()
        try:
            child = subprocess.Popen([sys.executable, "-m", __name__, str(theirs.fileno())],
                                     pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        except OSError as exc:
            ours.close()
            raise LabelStoreUnavailable(f"cannot start the process judging labels: {exc}") from None
        finally:
            theirs.close()
        self._child, self._connection = child, multiprocessing.connection.Connection(ours.detach())
        self._finalizer = weakref.finalize(self, _stop_child, child, self._connection)
        self._connection.send(self._start_message)
        return self._connection

    def _receive(self, connection: multiprocessing.connection.Connection):
        if not connection.poll(self.timeout_seconds):
            raise TimeoutError(f"no answer in {self.timeout_seconds:g} s")
        return connection.recv()

    def _stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._child = self._connection = self._finalizer = None


def _kind_of(label_kind: LabelKind, version: str):
    try:
        return ("kind", label_kind(version))
    except KeyError:
        return ("kind", UNKNOWN_VERSION)


def _stop_child(child: subprocess.Popen, connection: multiprocessing.connection.Connection) -> None:
    connection.close()  # a child between requests reads the end and exits
    try:
        child.wait(timeout=1)
    except subprocess.TimeoutExpired:  # stuck in a request, or slow at nice 19 on a busy machine
        child.kill()
        child.wait()


# -- the child ----------------------------------------------------------------------------------
def serve(connection: multiprocessing.connection.Connection) -> None:
    """Take requests until the worker closes its end."""
    os.nice(NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the worker's exit ends this
    _, key, record_path, horizon_seconds = connection.recv()
    ids, record = PredictionIds(key), LabelledIds(Path(record_path), horizon_seconds)
    while True:
        try:
            _, model, items = connection.recv()
        except EOFError:
            return
        try:
            reply = _take(connection.send, connection.recv, ids, record, model, items)
        except Exception as exc:  # noqa: BLE001 - a bug here is the worker's 500, not a silent exit
            log.exception("judging labels failed")
            reply = ("failed", f"{type(exc).__name__}: {exc}")
        connection.send(reply)


def _take(send: Callable, receive: Callable, ids: PredictionIds, record: LabelledIds, model: str, items: list):
    def label_kind(version: str):
        send(("kind?", version))
        _, kind = receive()
        if kind == UNKNOWN_VERSION:
            raise KeyError(version)
        return kind

    try:
        judged = record.claim(judge(items, ids, model, label_kind, record.horizon_seconds))
    except InvalidFeedback as exc:
        return ("invalid", exc.problems)
    except LabelStoreUnavailable as exc:
        return ("unavailable", str(exc))
    return ("taken", answers(judged), tally(judged, time.time()))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    serve(multiprocessing.connection.Connection(int(sys.argv[1])))
