"""The prediction-id key when every worker starts at once: one key, whole, for all of them
(a worker once read the file between its creation and its writing, got no key, and took the
service down), 0600, and no temporary file left behind."""

from __future__ import annotations

import multiprocessing
import stat

from modelwatch.core.secret_keys import load_or_create_key


def _worker(path, barrier, results):
    barrier.wait()
    results.put(load_or_create_key(path))


def test_workers_starting_together_share_one_whole_key(tmp_path):
    path = tmp_path / "secrets" / "prediction-id.key"
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(16), context.Queue()
    workers = [context.Process(target=_worker, args=(path, barrier, results)) for _ in range(16)]
    for worker in workers:
        worker.start()
    keys = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(60)
    assert all(worker.exitcode == 0 for worker in workers)
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert load_or_create_key(path) == keys[0]  # and it is the one on disk
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["prediction-id.key"]
