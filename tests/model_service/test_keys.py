"""The key store as a running service sees it: another process (``modelwatch
keys`` or ``modelwatch load``) changes the keys file while the service runs."""

from __future__ import annotations

import json
import threading
import time

import pytest

from modelwatch.model_service.keys import KeyStore
from modelwatch.core.errors import ModelwatchError


@pytest.fixture
def keys_file(tmp_path):
    return tmp_path / "keys.json"


def test_a_key_created_elsewhere_works_on_its_first_request(keys_file):
    # The service checks the file at most once an hour here: only a miss may re-read it.
    service = KeyStore(keys_file, recheck_seconds=3600)
    assert service.authenticate("mw_000000000000_" + "a" * 32) is None
    key = KeyStore(keys_file).add("loadtest")
    client = service.authenticate(key)
    assert client is not None and client.name == "loadtest" and client.role == "user"


def test_threads_that_see_a_new_key_at_once_all_accept_it(keys_file, monkeypatch):
    # A thread worker's first requests with a fresh key arrive together: the one that
    # re-reads the file holds the lock while the others wait, and they must not give
    # up just because the file had been re-read by the time they got the lock.
    service = KeyStore(keys_file, recheck_seconds=3600)
    key = KeyStore(keys_file).add("loadtest")
    read = KeyStore._read

    def slow_read(store):
        time.sleep(0.05)
        return read(store)

    monkeypatch.setattr(KeyStore, "_read", slow_read)
    start = threading.Barrier(8)
    results = []

    def first_request():
        start.wait()
        results.append(service.authenticate(key))

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [client and client.name for client in results] == ["loadtest"] * 8


def test_a_removed_key_stops_working_after_the_recheck_interval(keys_file):
    key = KeyStore(keys_file).add("alice")
    service = KeyStore(keys_file, recheck_seconds=0.05)
    assert service.authenticate(key) is not None  # now cached as verified
    KeyStore(keys_file).remove("alice")
    time.sleep(0.1)
    assert service.authenticate(key) is None


def test_a_wrong_secret_for_a_known_id_is_rejected(keys_file):
    key = KeyStore(keys_file).add("alice", role="admin")
    service = KeyStore(keys_file)
    assert service.authenticate(key).role == "admin"
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert service.authenticate(tampered) is None
    assert service.authenticate("not a key") is None


def test_the_file_stores_hashes_and_bad_names_or_roles_are_refused_without_writing(keys_file):
    store = KeyStore(keys_file)
    key = store.add("alice")
    text = keys_file.read_text()
    assert key.split("_", 2)[2] not in text and json.loads(text)["keys"][0]["name"] == "alice"
    assert keys_file.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ModelwatchError, match="invalid client name"):
        store.add("no spaces")
    with pytest.raises(ModelwatchError, match="invalid role"):
        store.add("bob", role="root")
    with pytest.raises(ModelwatchError, match="no key with name or id"):
        store.remove("carol")
    assert keys_file.read_text() == text


@pytest.mark.parametrize("content", ["{not json", "[]", '{"keys": {}}', '{"keys": [{"id": "x"}]}', '{"keys": [7]}'])
def test_a_file_that_turns_bad_leaves_the_last_good_keys_in_use_and_is_reported_once(keys_file, content):
    key = KeyStore(keys_file).add("alice")
    failures = []
    service = KeyStore(keys_file, recheck_seconds=0, on_reload_failure=lambda: failures.append(1))
    keys_file.write_text(content)
    for _ in range(3):
        client = service.authenticate(key)
        assert client is not None and client.name == "alice"
    assert failures == [1]  # once per change of the file, not once per request
    with pytest.raises(ModelwatchError, match=f"keys file {keys_file}"):
        KeyStore(keys_file)  # at start there is no good set to fall back on: a one-line error


def test_a_repaired_file_is_read_again(keys_file):
    KeyStore(keys_file).add("alice")
    good = keys_file.read_text()
    service = KeyStore(keys_file, recheck_seconds=0, on_reload_failure=lambda: None)
    keys_file.write_text("{")
    assert service.authenticate("mw_000000000000_" + "a" * 32) is None
    keys_file.write_text(good)
    bob = KeyStore(keys_file).add("bob")
    assert service.authenticate(bob).name == "bob"


def test_renew_replaces_only_that_clients_keys_in_one_write(keys_file):
    store = KeyStore(keys_file)
    old, other = store.add("loadtest"), store.add("alice")
    new = store.renew("loadtest")
    service = KeyStore(keys_file)
    assert service.authenticate(old) is None
    assert service.authenticate(new).name == "loadtest" and service.authenticate(other).name == "alice"
    assert [c["name"] for c in store.clients()].count("loadtest") == 1
    with pytest.raises(ModelwatchError, match="invalid client name"):
        store.renew("no spaces")


def test_a_failed_change_writes_nothing_and_leaves_no_temporary_file(keys_file, monkeypatch):
    store = KeyStore(keys_file)
    store.add("alice")
    before = sorted(p.name for p in keys_file.parent.iterdir())
    text = keys_file.read_text()

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        store.add("bob")
    assert keys_file.read_text() == text
    assert sorted(p.name for p in keys_file.parent.iterdir()) == before
