"""What the load sends: rows of the model's reference sample (what it was
registered with), unchanged, or drifted: every number shifted well outside the
reference (drift, or a unit change upstream) and every category swapped for the
next known one. No Locust here, so the CLI can import the scenario table
without gevent's monkey-patching."""

from __future__ import annotations


def unchanged(row: dict, categories: dict[str, list[str]]) -> dict:
    return row


def drifted(row: dict, categories: dict[str, list[str]]) -> dict:
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
