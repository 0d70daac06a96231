"""prometheus-client multiprocess mode, done right for gunicorn.

- The metrics folder is wiped when the server starts (stale files from an
  earlier run would otherwise be summed in).
- When a worker exits, its counter, histogram and summary files are folded
  into one ``<type>_archive.db`` per type and deleted, and its gauge files are
  deleted. Restarting workers (``max_requests``, crashes, scaling) therefore
  leaves a bounded number of files, and counters never go backwards
  (prometheus/client_python#204, #275, #443).
- Folding and scraping take a file lock (exclusive / shared), so a scrape never
  sees a dead worker's values twice or not at all.
- Files allocate their space as they grow (``allocate_metric_files``): a full
  filesystem is an error where a file grows, not a SIGBUS that kills the
  worker (or the master, folding). A fold is all or nothing: into a copy of
  the archive, renamed over it only once complete.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from modelwatch.model_service.prometheus_internals import allocate_metric_files, fold_file

allocate_metric_files()  # in every process that imports this: the master and the workers

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"
SUMMED_TYPES = ("counter", "histogram", "summary")
LOCK_FILE = ".compaction.lock"


def prepare_dir(path: Path) -> None:
    """Create an empty metrics folder, removing anything an earlier run left."""
    shutil.rmtree(path, ignore_errors=True)
    Path(path).mkdir(parents=True)


@contextmanager
def _locked(path: Path, mode: int):
    Path(path).mkdir(parents=True, exist_ok=True)  # removed under a running service: start it again
    with open(Path(path) / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fold_dead_worker(path: Path, pid: int) -> None:
    """Fold a dead worker's summed series into the archive and delete its files.

    Each fold goes into a copy of the archive that replaces it once complete: on a full
    filesystem it fails whole, and the dead worker's file stays (and is still summed)."""
    path = Path(path)
    with _locked(path, fcntl.LOCK_EX):
        for kind in SUMMED_TYPES:
            dead = path / f"{kind}_{pid}.db"
            if not _holds_values(dead):
                dead.unlink(missing_ok=True)  # absent, or left empty by a full filesystem
                continue
            archive, folding = path / f"{kind}_archive.db", path / f".{kind}_archive.folding"
            try:
                if archive.exists():
                    shutil.copyfile(archive, folding)
                fold_file(str(dead), str(folding))
                os.replace(folding, archive)
            finally:
                folding.unlink(missing_ok=True)
            dead.unlink()
        for gauge in glob.glob(str(path / f"gauge_*_{pid}.db")):
            os.remove(gauge)


def _holds_values(file: Path) -> bool:
    """A metric file with its header: one a full filesystem left at size 0 cannot be read."""
    try:
        return file.stat().st_size >= 8
    except FileNotFoundError:
        return False


class LockedMultiProcessCollector(MultiProcessCollector):
    """MultiProcessCollector that reads under the shared lock, skipping files without values."""

    def collect(self):
        with _locked(Path(self._path), fcntl.LOCK_SH):
            files = [name for name in glob.glob(os.path.join(self._path, "*.db")) if _holds_values(Path(name))]
            return list(self.merge(files, accumulate=True))


def restart_when_writable(path: Path, free_bytes: int = 1 << 20, every_seconds: float = 5.0) -> None:
    """For a worker that booted without metrics (their filesystem was full): once ``path`` has
    room again, end this worker gracefully (SIGTERM), so gunicorn starts an instrumented one."""

    def watch():
        while True:
            time.sleep(every_seconds)
            try:
                room = os.statvfs(path)
            except OSError:
                continue
            if room.f_bavail * room.f_frsize >= free_bytes:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="metrics-room", daemon=True).start()


def multiprocess_registry(path: Path) -> CollectorRegistry:
    registry = CollectorRegistry()
    LockedMultiProcessCollector(registry, path=str(path))
    return registry
