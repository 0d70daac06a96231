"""The locustfile ``modelwatch load`` runs (``locust -f loadtests/locustfile.py``).

The scenario, users, duration, key and output folder come from environment
variables set by ``modelwatch load``; it writes what the clients saw, and
``modelwatch load`` judges the SLO from Prometheus (``gate.py``). Only the chosen shape and user class are
bound here, because Locust runs every non-abstract class it finds.
"""

import json
import os
import time
from pathlib import Path

from locust import events

from modelwatch.loadtests import gate, inputs, shapes
from modelwatch.loadtests.scenarios import SCENARIOS
from modelwatch.loadtests.users import LabellingUser, ModelApiUser, RegisteredModelUser, configure

_scenario = SCENARIOS[os.environ.get("MODELWATCH_LOAD_SCENARIO", "steady")]
_model = os.environ.get("MODELWATCH_LOAD_MODEL", "")
_sample = json.loads(Path(os.environ["MODELWATCH_LOAD_SAMPLE"]).read_text())  # the model's reference rows
_grpc_target = os.environ.get("MODELWATCH_LOAD_GRPC_TARGET", "")
if _grpc_target:  # the Open Inference Protocol over gRPC, to the model by name
    from modelwatch.loadtests.grpc_users import GrpcModelUser

    _user = GrpcModelUser
    GrpcModelUser.target = _grpc_target
else:  # by name, or the default model's own routes; labels go to a model by name
    _user = LabellingUser if _scenario.labels else RegisteredModelUser if _model else ModelApiUser


class ApiUser(_user):
    transform = staticmethod(getattr(inputs, _scenario.inputs))


configure(ApiUser, _sample, _model)


class ScenarioShape(getattr(shapes, _scenario.shape)):
    abstract = False

    def __init__(self):
        super().__init__(int(os.environ.get("MODELWATCH_LOAD_USERS", "10")),
                         float(os.environ.get("MODELWATCH_LOAD_DURATION", "60")))


_started = time.time()


@events.test_start.add_listener
def _mark_start(**_):
    global _started
    _started = ApiUser.started = time.time()


@events.quitting.add_listener
def _client_figures(environment, **_):
    # The SLO gate is judged by modelwatch load from Prometheus; Locust only reports what it saw.
    out = os.environ.get("MODELWATCH_LOAD_OUT")
    if out:
        gate.write(gate.client_figures(environment.stats.total, _started, time.time()), Path(out) / gate.CLIENT_FILE)
    environment.process_exit_code = 0
