"""The locustfile ``modelwatch load`` runs (``locust -f loadtests/locustfile.py``).

The scenario, users, duration, key and output folder come from environment
variables set by ``modelwatch load``. Only the chosen shape and user class are
bound here, because Locust runs every non-abstract class it finds.
"""

import os
from pathlib import Path

from locust import events

from modelwatch.loadtests import gate, inputs, shapes
from modelwatch.loadtests.scenarios import SCENARIOS
from modelwatch.loadtests.users import ModelApiUser, configure

_scenario = SCENARIOS[os.environ.get("MODELWATCH_LOAD_SCENARIO", "steady")]


class ApiUser(ModelApiUser):
    transform = staticmethod(getattr(inputs, _scenario.inputs))


configure(ApiUser)


class ScenarioShape(getattr(shapes, _scenario.shape)):
    abstract = False

    def __init__(self):
        super().__init__(int(os.environ.get("MODELWATCH_LOAD_USERS", "10")),
                         float(os.environ.get("MODELWATCH_LOAD_DURATION", "60")))


@events.quitting.add_listener
def _slo_gate(environment, **_):
    result = gate.verdict(
        environment.stats.total,
        float(os.environ.get("MODELWATCH_LOAD_AVAILABILITY_TARGET", "0.999")),
        float(os.environ.get("MODELWATCH_LOAD_LATENCY_THRESHOLD", "0.25")),
    )
    out = os.environ.get("MODELWATCH_LOAD_OUT")
    if out:
        gate.write(result, Path(out))
    environment.process_exit_code = 0 if result["passed"] else 1
