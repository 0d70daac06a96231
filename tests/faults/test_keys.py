"""F7 and F8: the keys file changed by racing processes, and turned corrupt under a running service."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from modelwatch.model_service.keys import KeyStore
from tests.model_service.served import serve

pytestmark = pytest.mark.integration


def keys_command(state_dir: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, MODELWATCH_PATHS__STATE_DIR=str(state_dir))
    return subprocess.Popen([sys.executable, "-m", "modelwatch", "keys", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(processes: list[subprocess.Popen]) -> list[str]:
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outputs.append(out)
    return outputs


def status_with(base: str, key: str) -> int:
    return requests.get(f"{base}/api/v1/models", headers={"X-API-Key": key}, timeout=10).status_code


def settles_to(base: str, key: str, expected: int, seconds: float = 6.0) -> bool:
    """The service re-reads the keys file at most once a second: allow a few seconds on a busy machine."""
    deadline = time.monotonic() + seconds
    while status_with(base, key) != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_f7_concurrent_adds_lose_no_key_and_a_racing_remove_stays_removed(state_dir, report):
    store = KeyStore(state_dir / "keys.json")
    with serve(state_dir) as (base, _):
        adds = finished([keys_command(state_dir, "add", f"client-{i}") for i in range(16)])
        new_keys = [out.strip().splitlines()[-1] for out in adds]
        lost = sum(not settles_to(base, key, 200) for key in new_keys)

        revoked_working = 0
        rounds = 8
        for round_no in range(rounds):
            victim = store.add(f"victim-{round_no}")
            assert settles_to(base, victim, 200)
            racers = [keys_command(state_dir, "add", f"racer-{round_no}-{i}") for i in range(3)]
            racers.insert(1, keys_command(state_dir, "remove", f"victim-{round_no}"))
            finished(racers)
            revoked_working += not settles_to(base, victim, 401)
    names = [client["name"] for client in store.clients()]
    report("F7", keys_lost=lost, revoked_keys_still_accepted=f"{revoked_working}/{rounds}")
    assert lost == 0 and all(f"client-{i}" in names for i in range(16))
    assert revoked_working == 0
    assert sum(name.startswith("racer-") for name in names) == 3 * rounds


def test_f8_a_corrupt_keys_file_serves_the_last_good_keys_and_refuses_to_start(state_dir, report):
    keys_file = state_dir / "keys.json"
    key = KeyStore(keys_file).add("alice")
    with serve(state_dir) as (base, _):
        assert status_with(base, key) == 200
        good = keys_file.read_text()
        keys_file.write_text(good[: len(good) // 2])  # a half-written edit
        time.sleep(1.5)  # past the service's recheck interval
        statuses = [status_with(base, key) for _ in range(40)]
        metrics = requests.get(f"{base}/metrics", timeout=10).text
        keys_file.write_text(good)
    failures = [line for line in metrics.splitlines() if line.startswith("model_keys_reload_failures_total")]
    report("F8", five_xx_with_valid_keys=sum(s >= 500 for s in statuses), statuses=sorted(set(statuses)))
    assert statuses == [200] * 40
    assert failures and float(failures[0].split()[-1]) >= 1

    keys_file.write_text("{")
    env = dict(os.environ, MODELWATCH_PATHS__STATE_DIR=str(state_dir))
    start = subprocess.run([sys.executable, "-m", "modelwatch", "serve", "--port", "1"], env=env,
                           capture_output=True, text=True, timeout=120)
    report("F8", start_with_corrupt_file=start.stderr.strip())
    assert start.returncode != 0
    assert start.stderr.strip().count("\n") == 0 and f"keys file {keys_file}" in start.stderr
