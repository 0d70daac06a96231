"""The labels scenario's plan: which predictions get their true label, how
late, and — the concept-drift switch — a share of labels changed from some
point in the run, as if what the inputs mean had changed. No Locust here: the
CLI reads it too."""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Mapping

ENV_PREFIX = "MODELWATCH_LOAD_LABEL_"


@dataclass(frozen=True)
class LabelPlan:
    share: float = 0.5  # of the predictions whose row has a target
    delay_seconds: float = 10.0  # from the prediction to its label
    concept_drift: float = 0.0  # the share of labels flipped...
    drift_after_seconds: float = 0.0  # ...for the predictions made this far into the run or later

    def problems(self) -> list[str]:
        found = []
        if not 0 < self.share <= 1:
            found.append(f"--label-share must be over 0 and at most 1, not {self.share:g}")
        if not 0 <= self.concept_drift <= 1:
            found.append(f"--concept-drift must be 0 to 1, not {self.concept_drift:g}")
        if self.delay_seconds < 0 or self.drift_after_seconds < 0:
            found.append("--label-delay and --concept-drift-after cannot be negative")
        return found

    def to_env(self) -> dict[str, str]:
        return {f"{ENV_PREFIX}{f.name.upper()}": repr(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "LabelPlan":
        return cls(**{f.name: float(env[f"{ENV_PREFIX}{f.name.upper()}"]) for f in fields(cls)
                      if f"{ENV_PREFIX}{f.name.upper()}" in env})

    def label(self, target, targets: list, task: str, seconds_into_run: float, rng: random.Random):
        """The label sent for a prediction whose true answer is ``target``: itself, or after the concept
        changed and for a ``concept_drift`` share, another class (a regressor: another row's value)."""
        if self.concept_drift <= 0 or seconds_into_run < self.drift_after_seconds or rng.random() >= self.concept_drift:
            return target
        others = [t for t in (sorted(set(targets) - {None, target}) if task == "classification" else targets)
                  if t is not None and t != target]
        return rng.choice(others) if others else target
