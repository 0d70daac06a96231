"""modelwatch serve: run the model service under gunicorn.

Sets PROMETHEUS_MULTIPROC_DIR in the environment before gunicorn starts (it
must be set before prometheus_client is imported anywhere), then replaces this
process with gunicorn configured by model_service.gunicorn_conf.
"""

from __future__ import annotations

import argparse
import os
import sys

from modelwatch.model_service.multiprocess import ENV_VAR
from modelwatch.models.registry import Registry
from modelwatch.core import extras
from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.ports import check_port_free

OVERRIDES = ("host", "port", "workers", "threads")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default 8000)")
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, help="threads per worker (default 4)")


def run(args: argparse.Namespace, config: Config) -> int:
    extras.require("serve")  # before gunicorn's worker would fail with a traceback
    env = dict(os.environ)
    for name in OVERRIDES:
        value = getattr(args, name)
        if value is not None:
            env[f"MODELWATCH_SERVICE__{name.upper()}"] = str(value)
    if args.config:
        env["MODELWATCH_CONFIG"] = os.path.abspath(args.config)
    host = args.host or config.service.host
    port = args.port or config.service.port
    registry = Registry(config.paths.registry_dir, config.model.name)
    if not registry.versions():
        raise ModelwatchError(f"no model versions in {registry.model_dir}: run 'modelwatch train' first")
    check_port_free(host, port)
    config.paths.run_dir.mkdir(parents=True, exist_ok=True)
    env[ENV_VAR] = str(config.paths.multiproc_dir.resolve())
    command = [sys.executable, "-m", "gunicorn", "--config", "python:modelwatch.model_service.gunicorn_conf", "modelwatch.model_service.wsgi:app"]
    print(f"serving {config.model.name} on http://{host}:{port} (API /api/v1, docs /api/docs, metrics /metrics)", flush=True)
    os.execve(sys.executable, command, env)
    return 0  # not reached
