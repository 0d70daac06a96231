"""What the load sends: rows of the training data, or the same shifted well
outside it (drift, or a unit change upstream). For a registered model, rows of
its reference sample; drifted, every number shifted and every category swapped
for the next known one. No Locust here, so the CLI can import the scenario
table without gevent's monkey-patching."""

from __future__ import annotations

from sklearn.datasets import load_iris

FEATURES = ("sl", "sw", "pl", "pw")
ROWS = load_iris().data.round(1).tolist()


def unchanged(row: list[float]) -> list[float]:
    return row


def drifted(row: list[float]) -> list[float]:
    return [round(value * 1.6 + 1.5, 2) for value in row]


def unchanged_record(row: dict, categories: dict[str, list[str]]) -> dict:
    return row


def drifted_record(row: dict, categories: dict[str, list[str]]) -> dict:
    """A registered model's row shifted: numbers moved well outside the reference, categories swapped."""
    changed = {}
    for name, value in row.items():
        if value is None:
            changed[name] = None
        elif name in categories:
            known = categories[name]
            changed[name] = known[(known.index(value) + 1) % len(known)] if value in known and known else value
        else:
            changed[name] = round(value * 1.6 + abs(value) * 0.5 + 1.5, 4)
    return changed
