"""Folding and reading the multiprocess files when the filesystem under them is full."""

from __future__ import annotations

import pytest
from prometheus_client import Counter, values

from modelwatch.model_service import multiprocess
from modelwatch.model_service.prometheus_internals import fold_file


@pytest.fixture
def worker_files(tmp_path, monkeypatch):
    """A dead worker (pid 4242) that counted 7, and an archive holding 5."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for pid, count in ((1, 5), (4242, 7)):
        monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda pid=pid: pid))
        Counter("folded", "f", registry=None).inc(count)
    (tmp_path / "counter_1.db").rename(tmp_path / "counter_archive.db")
    return tmp_path


def total(folder) -> float:
    return multiprocess.multiprocess_registry(folder).get_sample_value("folded_total")


def test_a_fold_that_fails_half_way_changes_nothing_and_keeps_the_dead_file(worker_files, monkeypatch):
    archive = (worker_files / "counter_archive.db").read_bytes()

    def fold_then_fail(dead, into):
        fold_file(dead, into)  # the copy has the values...
        raise OSError(28, "No space left on device")  # ...but the filesystem filled before it was complete

    monkeypatch.setattr(multiprocess, "fold_file", fold_then_fail)
    with pytest.raises(OSError):
        multiprocess.fold_dead_worker(worker_files, 4242)
    assert (worker_files / "counter_archive.db").read_bytes() == archive
    assert (worker_files / "counter_4242.db").exists() and not list(worker_files.glob(".*folding"))
    assert total(worker_files) == 12  # nothing counted twice, nothing lost
    monkeypatch.setattr(multiprocess, "fold_file", fold_file)
    multiprocess.fold_dead_worker(worker_files, 4242)  # once there is room
    assert not (worker_files / "counter_4242.db").exists() and total(worker_files) == 12


def test_an_empty_file_a_full_filesystem_left_is_skipped_by_scrapes_and_folds(worker_files):
    (worker_files / "counter_999.db").touch()  # created, then could not be sized
    assert total(worker_files) == 12
    multiprocess.fold_dead_worker(worker_files, 999)
    assert not (worker_files / "counter_999.db").exists()


def test_a_worker_that_cannot_write_its_metric_files_boots_and_serves_without_them(tmp_path, monkeypatch, state_dir):
    """A worker booting while the folder is gone or full must not fail to boot: gunicorn would end the master."""
    from modelwatch.model_service.app import create_app
    from tests.conftest import make_config

    restarts = []
    monkeypatch.setattr(multiprocess, "restart_when_writable", lambda path: restarts.append(path))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "removed"))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda: 4343))
    client = create_app(make_config(state_dir), watch=False).test_client()
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 503  # no folder to read; it restarts once there is room
    assert restarts == [tmp_path / "removed"]


def test_a_worker_booted_on_a_full_disk_still_serves_the_other_workers_metrics(worker_files, monkeypatch, state_dir):
    """The replacement of a killed worker boots uninstrumented on a full disk; a scrape it answers
    must still show what the other workers counted (the files are only read)."""
    from modelwatch.model_service.app import create_app
    from tests.conftest import make_config

    monkeypatch.setattr(multiprocess, "restart_when_writable", lambda path: None)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("modelwatch.model_service.app.ServiceMetrics", full)
    client = create_app(make_config(state_dir), watch=False).test_client()
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert "folded_total 12.0" in answer.text
