"""Load shapes: how many users over time. Each takes the peak ``users`` and the
run's ``duration`` (seconds) and stops at the end (tick returns None)."""

from __future__ import annotations

import math

from locust import LoadTestShape


class Shape(LoadTestShape):
    abstract = True

    def __init__(self, users: int, duration: float, spawn_rate: float | None = None):
        super().__init__()
        self.users, self.duration = users, duration
        self.low = max(1, users // 5)
        self.spawn_rate = spawn_rate or max(1.0, users / 2)  # reach any level within about two seconds

    def users_at(self, t: float) -> int:
        raise NotImplementedError

    def tick(self):
        t = self.get_run_time()
        if t >= self.duration:
            return None
        return self.users_at(t), self.spawn_rate


class Steady(Shape):
    """The peak, all along."""

    def users_at(self, t):
        return self.users


class Step(Shape):
    """A fifth of the peak, the peak from 30 % to 70 % of the run, then back down: what autoscaling must follow."""

    def users_at(self, t):
        return self.users if 0.3 * self.duration <= t < 0.7 * self.duration else self.low


class Spike(Shape):
    """A fifth of the peak with a burst to the peak for 10 % of the run, in its middle."""

    def users_at(self, t):
        return self.users if 0.45 * self.duration <= t < 0.55 * self.duration else self.low


class Diurnal(Shape):
    """One compressed day: a sine from the low level up to the peak and back."""

    def users_at(self, t):
        phase = math.sin(math.pi * t / self.duration)  # 0 -> 1 -> 0
        return max(1, round(self.low + (self.users - self.low) * phase))
