"""Settling the heap: survivors frozen, the previous load's garbage still collected."""

from __future__ import annotations

import gc
import weakref

import pytest

from modelwatch.model_service import heap


@pytest.fixture
def enabled(monkeypatch):
    monkeypatch.setattr(heap, "enabled", True)
    yield
    gc.unfreeze()


class Node:
    pass


def test_settling_freezes_what_survives(enabled):
    heap.settle()
    assert gc.get_freeze_count() > 1000


def test_a_settle_collects_the_cycles_of_what_the_last_one_froze(enabled):
    # A version's objects are frozen when it loads; when a later switch unloads it, its cycles
    # must still be collectable, or every deploy would leak the one before.
    old = Node()
    old.self = old
    alive = weakref.ref(old)
    heap.settle()  # "old" is frozen with everything else
    del old
    gc.collect()
    assert alive() is not None  # frozen: the collector does not look at it
    heap.settle()
    assert alive() is None


def test_off_by_default_outside_gunicorn_workers():
    gc.unfreeze()
    assert heap.enabled is False
    heap.settle()
    assert gc.get_freeze_count() == 0
