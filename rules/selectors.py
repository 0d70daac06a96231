"""Constants the rule modules share; the label selectors are the queries module's."""

from __future__ import annotations

from modelwatch.core.queries import Selectors

__all__ = ["PSI_FLOOR", "Selectors", "number"]

# Live and reference shares are floored at this before PSI's logarithm (as
# Evidently does), so an empty bucket costs a bounded amount instead of infinity.
PSI_FLOOR = 1e-4


def number(value: float) -> str:
    """A threshold as PromQL text, without float noise (1 - 0.999 -> 0.001)."""
    return f"{value:.10g}"
