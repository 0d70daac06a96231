"""modelwatch serve: run the model service under gunicorn.

Sets PROMETHEUS_MULTIPROC_DIR in the environment before gunicorn starts (it
must be set before prometheus_client is imported anywhere), then replaces this
process with gunicorn configured by model_service.gunicorn_conf.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.multiprocess import ENV_VAR
from modelwatch.models.registry import Registry
from modelwatch.core import extras
from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.processes import service_master
from modelwatch.core.ports import check_port_free
from modelwatch.cli.options import setting, with_settings

OVERRIDES = ("host", "port", "workers", "threads")


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    for field, help in (("host", "address to bind"), ("port", "port to bind"),
                        ("workers", "gunicorn worker processes"), ("threads", "threads per worker")):
        setting(parser, config.service, field, help)


def _clear_stale_pid_file(pid_file: Path) -> None:
    """gunicorn refuses to start while its pid file names any live process (a reused pid, a killed master
    not yet reaped): remove a file that does not name this service's running master."""
    try:
        master = service_master(pid_file)
    except ModelwatchError:
        pid_file.unlink(missing_ok=True)
        return
    raise ModelwatchError(f"the model service is already running (pid {master.pid}, {pid_file}): modelwatch down, "
                          "or another paths.state_dir")


def run(args: argparse.Namespace, config: Config) -> int:
    extras.require("serve")  # before gunicorn's worker would fail with a traceback
    env = dict(os.environ)
    for name in OVERRIDES:
        value = getattr(args, name)
        if value is not None:
            env[f"MODELWATCH_SERVICE__{name.upper()}"] = str(value)
    if args.config:
        env["MODELWATCH_CONFIG"] = os.path.abspath(args.config)
    config = with_settings(config, "service", args)
    host, port = config.service.host, config.service.port
    registry = Registry(config.paths.registry_dir, config.model.name)
    if not registry.versions() and not Registry.models(config.paths.registry_dir):
        raise ModelwatchError(f"no models in {config.paths.registry_dir}: register yours (modelwatch models add) "
                              "or make the example (modelwatch train)")
    KeyStore(config.paths.keys_file)  # a corrupt keys file is one line here, not a traceback per worker
    _clear_stale_pid_file(config.paths.service_pid_file)
    if not config.service.socket:
        check_port_free(host, port)
    config.paths.run_dir.mkdir(parents=True, exist_ok=True)
    env[ENV_VAR] = str(config.paths.multiproc_dir.resolve())
    command = [sys.executable, "-m", "gunicorn", "--config", "python:modelwatch.model_service.gunicorn_conf", "modelwatch.model_service.wsgi:app"]
    where = f"unix:{config.service.socket}" if config.service.socket else f"http://{host}:{port}"
    print(f"serving {config.model.name} on {where} (API /api/v1, docs /api/docs, metrics /metrics)", flush=True)
    os.execve(sys.executable, command, env)
    return 0  # not reached
