"""The scenario table: a name -> its load shape (a class in shapes.py) and its
inputs. Names only: importing Locust here would monkey-patch the CLI."""

from __future__ import annotations

from typing import NamedTuple


class Scenario(NamedTuple):
    shape: str  # a class of loadtests.shapes
    inputs: str  # a function of loadtests.inputs, applied to each row of the model's reference sample
    help: str
    labels: bool = False  # the users send the true labels of their predictions later (users.LabellingUser)


SCENARIOS: dict[str, Scenario] = {
    "steady": Scenario("Steady", "unchanged", "constant load at the given users"),
    "step": Scenario("Step", "unchanged", "a fifth of the users, all of them from 30 % to 70 % of the run, back down"),
    "spike": Scenario("Spike", "unchanged", "a fifth of the users with a burst to all of them mid-run"),
    "diurnal": Scenario("Diurnal", "unchanged", "a sine from a fifth of the users up to all and back"),
    "drift": Scenario("Steady", "drifted", "steady load with every number shifted outside the reference data "
                      "and every category swapped"),
    "labels": Scenario("Steady", "unchanged", "steady predictions by model name; the true labels of a share of them "
                       "sent after a delay (--label-share, --label-delay), a share flipped with --concept-drift",
                       labels=True),
}
