"""The modelwatch command: help everywhere, one-line errors, keys shown once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from modelwatch.cli import COMMANDS, main


def run_cli(*args, state_dir=None, env=None, **kwargs):
    env = dict(os.environ if env is None else env)
    if state_dir is not None:
        env["MODELWATCH_PATHS__STATE_DIR"] = str(state_dir)
    return subprocess.run([sys.executable, "-m", "modelwatch", *args], capture_output=True, text=True, env=env, **kwargs)


@pytest.mark.parametrize("command", [[], *[[name] for name in COMMANDS], ["keys", "add"]])
def test_every_command_has_help(command):
    result = run_cli(*command, "--help")
    assert result.returncode == 0 and "usage: modelwatch" in result.stdout


def test_unknown_command_is_one_line_error():
    result = run_cli("fly")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "invalid choice" in result.stderr


def test_help_shows_the_configured_value_not_a_copy_of_the_default(tmp_path):
    config = tmp_path / "modelwatch.yaml"
    config.write_text("service:\n  port: 8123\nexporter:\n  collectors: host\n")
    assert "port to bind (now: 8123)" in run_cli("--config", str(config), "serve", "--help").stdout
    exporter = run_cli("exporter", "--help", env=dict(os.environ, MODELWATCH_CONFIG=str(config))).stdout
    assert "(now: host)" in " ".join(exporter.split())


def test_help_works_while_the_configuration_is_broken_and_running_says_why(tmp_path):
    env = dict(os.environ, MODELWATCH_SERVICE__PORT="http", MODELWATCH_PATHS__STATE_DIR=str(tmp_path))
    assert run_cli("serve", "--help", env=env).returncode == 0
    assert "service.port: expected an integer" in run_cli("serve", env=env).stderr


def test_a_broken_command_breaks_only_itself(monkeypatch, capsys):
    from modelwatch.cli import CommandInfo

    monkeypatch.setitem(COMMANDS, "broken", CommandInfo("modelwatch.cli.does_not_exist", "a command that cannot load"))
    with pytest.raises(SystemExit) as listed:
        main(["--help"])
    assert listed.value.code == 0 and "a command that cannot load" in capsys.readouterr().out
    with pytest.raises(SystemExit) as other:
        main(["rules", "--help"])
    assert other.value.code == 0 and "--no-check" in capsys.readouterr().out
    assert main(["broken"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("modelwatch broken: error: cannot load the command")


@pytest.mark.parametrize("command, option", [(["report", "--since", "5x"], "--since"),
                                             (["baseline", "record", "--window", "0m"], "--window"),
                                             (["load", "steady", "--duration", "soon"], "--duration")])
def test_a_bad_duration_names_its_option(command, option):
    result = run_cli(*command)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"argument {option}: expected a duration like 300s, 5m or 1h" in result.stderr


def test_serve_without_model_says_what_to_do(tmp_path):
    result = run_cli("serve", state_dir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"modelwatch serve: error: no models in {tmp_path}/models: register yours (modelwatch models add) "
        "or make the example (modelwatch train)"
    ]


def test_serve_on_busy_port_is_one_line(state_dir):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_cli("serve", "--port", str(busy.getsockname()[1]), state_dir=state_dir)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "cannot bind" in result.stderr


def test_bad_configuration_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "modelwatch", "train"], capture_output=True, text=True,
        env=dict(os.environ, MODELWATCH_SERVICE__PORT="http", MODELWATCH_PATHS__STATE_DIR=str(tmp_path)))
    assert result.returncode == 2
    assert result.stderr.strip() == "modelwatch train: error: invalid configuration: service.port: expected an integer, got 'http'"


def test_train_registers_versions(tmp_path, capsys):
    os.environ["MODELWATCH_PATHS__STATE_DIR"] = str(tmp_path)
    try:
        assert main(["train"]) == 0
        assert "registered iris v1" in capsys.readouterr().out
        assert main(["train", "--if-missing"]) == 0
        assert "not training" in capsys.readouterr().out
        assert main(["train", "--version", "v1"]) == 1
        assert "already exists" in capsys.readouterr().err
        assert main(["train", "--version", "canary-2"]) == 0
    finally:
        del os.environ["MODELWATCH_PATHS__STATE_DIR"]
    assert sorted(p.name for p in (tmp_path / "models" / "iris").iterdir()) == ["canary-2", "deployment.json", "v1"]


def test_keys_add_shows_key_once_and_stores_hash(tmp_path):
    added = run_cli("keys", "add", "alice", "--role", "admin", state_dir=tmp_path)
    assert added.returncode == 0
    key = added.stdout.strip().splitlines()[-1]
    assert key.startswith("mw_")
    stored = (tmp_path / "keys.json").read_text()
    assert key.split("_", 2)[2] not in stored
    assert oct((tmp_path / "keys.json").stat().st_mode & 0o777) == "0o600"
    record = json.loads(stored)["keys"][0]
    assert record["name"] == "alice" and record["role"] == "admin" and len(record["sha256"]) == 64
    listed = run_cli("keys", "list", state_dir=tmp_path).stdout
    assert "alice" in listed and key not in listed
    again = run_cli("keys", "ensure", "alice", state_dir=tmp_path)
    assert "already has a key" in again.stdout
    assert run_cli("keys", "add", "bad name!", state_dir=tmp_path).stderr.startswith("modelwatch keys: error: invalid client name")
    assert run_cli("keys", "remove", "alice", state_dir=tmp_path).returncode == 0
    assert run_cli("keys", "remove", "alice", state_dir=tmp_path).returncode == 1


def test_deploy_validates_versions(state_dir):
    assert run_cli("deploy", "--canary", "v2", "--weight", "0.2", state_dir=state_dir).returncode == 0
    deployment = json.loads((state_dir / "models" / "iris" / "deployment.json").read_text())
    assert deployment == {"stable": "v1", "canary": "v2", "canary_weight": 0.2}
    bad = run_cli("deploy", "--stable", "v7", state_dir=state_dir)
    assert bad.returncode == 1 and "'v7' rejected (missing)" in bad.stderr
    assert run_cli("deploy", "--no-canary", state_dir=state_dir).returncode == 0
    assert json.loads((state_dir / "models" / "iris" / "deployment.json").read_text())["canary"] is None
