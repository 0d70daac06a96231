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
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from modelwatch.model_service.prometheus_internals import fold_file

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
    """Fold a dead worker's summed series into the archive and delete its files."""
    path = Path(path)
    with _locked(path, fcntl.LOCK_EX):
        for kind in SUMMED_TYPES:
            dead = path / f"{kind}_{pid}.db"
            if not dead.exists():
                continue
            fold_file(str(dead), str(path / f"{kind}_archive.db"))
            dead.unlink()
        for gauge in glob.glob(str(path / f"gauge_*_{pid}.db")):
            os.remove(gauge)


class LockedMultiProcessCollector(MultiProcessCollector):
    """MultiProcessCollector that reads under the shared lock."""

    def collect(self):
        with _locked(Path(self._path), fcntl.LOCK_SH):
            return list(super().collect())


def multiprocess_registry(path: Path) -> CollectorRegistry:
    registry = CollectorRegistry()
    LockedMultiProcessCollector(registry, path=str(path))
    return registry
