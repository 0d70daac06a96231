"""What the load sends: rows of the training data, or the same shifted well
outside it (drift, or a unit change upstream). No Locust here, so the CLI can
import the scenario table without gevent's monkey-patching."""

from __future__ import annotations

from sklearn.datasets import load_iris

FEATURES = ("sl", "sw", "pl", "pw")
ROWS = load_iris().data.round(1).tolist()


def unchanged(row: list[float]) -> list[float]:
    return row


def drifted(row: list[float]) -> list[float]:
    return [round(value * 1.6 + 1.5, 2) for value in row]
