"""The requests each worker has in flight, kept in a small shared-memory file per
worker, so the gunicorn master can count the ones a dying worker takes with it.

A worker killed mid-request (SIGKILL, the OOM killer, gunicorn's own timeout)
never answers and never records those requests: the client sees a reset and no
series says so. With a ledger, the master reads the dead worker's file and
records each request it held as a 500 of its route, so the availability SLO
counts the failures clients saw (``gunicorn_conf.child_exit``).

The gunicorn worker (``gunicorn_worker``) counts each connection it queues for
its threads with a request to read (``queued``), and each thread marks its slot
from picking one up (``started``) until its answer is sent (``finished``); the
method and Flask's matched route are added when known. A request is lost if its
slot is busy, or if it was queued and never picked up. Each field has one
writer (the main thread, or the slot's thread), so nothing needs a lock.
"""

from __future__ import annotations

import itertools
import logging
import mmap
import os
import struct
import threading
import time
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)
HEADER = struct.Struct("Q")  # connections queued for a thread (written by the worker's main thread)
SLOT = struct.Struct("dQ8s120s")  # started (Unix time; 0: idle), connections picked up, method, route
SLOTS = 256  # more threads than this go unrecorded (the default is 2 per worker)
SIZE = HEADER.size + SLOTS * SLOT.size
UNMATCHED_ROUTE = "unmatched"
UNKNOWN_METHOD = "_OTHER"  # not parsed yet (OpenTelemetry's value for a method it does not know)


current: "RequestLedger | None" = None  # this worker process's ledger, set by the gunicorn worker


class LostRequest(NamedTuple):
    method: str
    route: str
    seconds: float  # how long it had run when its worker died


def ledger_file(directory: Path, pid: int) -> Path:
    return Path(directory) / f"ledger_{pid}.bin"  # not *.db: the metrics collector must not read it


class RequestLedger:
    """This worker's ledger, created at its first request (after gunicorn's fork)."""

    def __init__(self, directory: Path):
        self._directory = Path(directory)
        self._map: mmap.mmap | None = None
        self._pid = 0
        self._slots = itertools.count()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._queued = 0

    def _slot_offset(self) -> int | None:
        if self._pid != os.getpid():
            self._open()
        if self._map is None:
            return None
        offset = getattr(self._local, "offset", False)
        if offset is False:
            index = next(self._slots)
            offset = self._local.offset = HEADER.size + index * SLOT.size if index < SLOTS else None
            self._local.picked = 0
        return offset

    def _open(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            path = ledger_file(self._directory, os.getpid())
            self._map = None
            try:
                self._directory.mkdir(parents=True, exist_ok=True)
                with open(path, "wb+") as handle:
                    os.posix_fallocate(handle.fileno(), 0, SIZE)  # a full filesystem fails here, not as SIGBUS
                    self._map = mmap.mmap(handle.fileno(), SIZE)
            except OSError as exc:  # serve anyway: this worker's lost requests go uncounted
                log.error("no request ledger in %s (%s): requests lost if this worker dies are not counted",
                          self._directory, exc)
            self._slots = itertools.count()
            self._local = threading.local()
            self._queued = 0
            self._pid = os.getpid()

    def queued(self) -> None:
        """A connection with a request to read was queued for the threads (main thread only)."""
        if self._pid != os.getpid():
            self._open()
        if self._map is not None:
            self._queued += 1
            HEADER.pack_into(self._map, 0, self._queued)

    def started(self) -> None:
        """This thread picked a queued connection up."""
        offset = self._slot_offset()
        if offset is not None:
            self._local.picked += 1
            SLOT.pack_into(self._map, offset, time.time(), self._local.picked, b"", b"")

    def request(self, method: str) -> None:
        offset = self._slot_offset()
        if offset is not None:
            struct.pack_into("8s", self._map, offset + 16, method.encode()[:8])

    def routed(self, route: str) -> None:
        offset = self._slot_offset()
        if offset is not None:
            struct.pack_into("120s", self._map, offset + 24, route.encode()[:120])

    def finished(self) -> None:
        offset = self._slot_offset()
        if offset is not None:
            struct.pack_into("d", self._map, offset, 0.0)


def take_lost_requests(directory: Path, pid: int) -> list[LostRequest]:
    """The requests a dead worker had in flight; its ledger is removed."""
    path = ledger_file(directory, pid)
    try:
        data = path.read_bytes()
    except OSError:
        return []  # it never served a request, or could not make its ledger
    path.unlink(missing_ok=True)
    if len(data) != SIZE:
        return []  # not a ledger this version wrote
    now, lost, picked = time.time(), [], 0
    (queued,) = HEADER.unpack_from(data, 0)
    for offset in range(HEADER.size, SIZE, SLOT.size):
        started, slot_picked, method, route = SLOT.unpack_from(data, offset)
        picked += slot_picked
        if started > 0:
            lost.append(LostRequest(method.rstrip(b"\0").decode(errors="replace") or UNKNOWN_METHOD,
                                    route.rstrip(b"\0").decode(errors="replace") or UNMATCHED_ROUTE,
                                    max(0.0, now - started)))
    # Queued and never picked up: the client sent a request that no thread read.
    lost += [LostRequest(UNKNOWN_METHOD, UNMATCHED_ROUTE, 0.0)] * max(0, queued - picked)
    return lost
