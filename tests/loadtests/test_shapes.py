"""The load shapes: users over time, and the end of the run."""

from __future__ import annotations

import os

import pytest

# Importing Locust would monkey-patch the whole test process with gevent; the shapes need none of it.
os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")
from modelwatch.loadtests import shapes  # noqa: E402


def users(shape, t):
    shape.get_run_time = lambda: t
    tick = shape.tick()
    return None if tick is None else tick[0]


@pytest.mark.parametrize("cls, expected", [
    (shapes.Steady, [50, 50, 50, 50]),
    (shapes.Step, [10, 50, 50, 10]),     # 0-30 % low, 30-70 % peak, then low
    (shapes.Spike, [10, 10, 50, 10]),    # the burst is 45-55 %
])
def test_users_over_the_run(cls, expected):
    shape = cls(50, 100)
    assert [users(shape, t) for t in (0, 35, 50, 80)] == expected


def test_diurnal_rises_to_the_peak_mid_run_and_falls_back():
    shape = shapes.Diurnal(50, 100)
    values = [users(shape, t) for t in range(0, 100, 10)]
    assert values[0] == 10 and max(values) == users(shape, 50) == 50 and values[-1] < 25
    assert values == sorted(values[:6]) + sorted(values[5:], reverse=True)[1:]


def test_every_shape_stops_at_the_end():
    for cls in (shapes.Steady, shapes.Step, shapes.Spike, shapes.Diurnal):
        assert users(cls(20, 30), 30) is None
