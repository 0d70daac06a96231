"""API keys: created once, shown once, stored as salted hashes.

A key reads ``mw_<id>_<secret>``. The keys file stores, per id, the client name,
role, salt and sha256(salt + secret); the id finds the record and the hash is
compared in constant time. Keys are random 192-bit secrets, so a fast hash is
enough (as for other high-entropy API tokens); a slow password hash would cost
every request milliseconds. Neither keys nor hashes are ever logged or used as
metric labels: only the client name is.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from modelwatch.core.files import write_json_atomically
from modelwatch.core.errors import ModelwatchError

ROLES = ("user", "admin")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KEY_PATTERN = re.compile(r"^mw_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$")
RECORD_FIELDS = ("id", "name", "role", "salt", "sha256")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Client:
    key_id: str
    name: str
    role: str


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


class KeyStore:
    """The keys file, re-read when it changes, so keys added or removed with
    ``modelwatch keys`` take effect without a restart. A key that does not match
    checks the file at once (a key created a moment ago works on its first
    request); otherwise the file is checked at most once a second, so a removed
    key stops working within that second.

    A file that cannot be read at construction is an error; one that turns unreadable
    or corrupt later leaves the last good set of keys in use (``on_reload_failure`` is
    told, once per change of the file). Changes take an exclusive lock on a sibling
    ``.lock`` file around their read-modify-write, so concurrent ``keys add`` and
    ``keys remove`` (several processes) lose nothing and resurrect nothing."""

    def __init__(self, path: Path, recheck_seconds: float = 1.0, on_reload_failure: Callable[[], None] | None = None):
        self.path = Path(path)
        self._recheck = recheck_seconds
        self._on_reload_failure = on_reload_failure
        self._lock = threading.Lock()
        self._records: dict[str, dict] = {}
        self._stamp: tuple | None = None
        self._next_check = 0.0
        # Keys already verified since the file was last read: skips the hash on
        # repeat requests. Bounded, and cleared whenever the file changes.
        self._verified: dict[str, Client] = {}
        self._refresh(force=True)

    def _read(self) -> dict[str, dict]:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ModelwatchError(f"keys file {self.path} is unreadable: {exc}") from None
        records = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(records, list) or not all(
                isinstance(r, dict) and all(isinstance(r.get(f), str) for f in RECORD_FIELDS) for r in records):
            raise ModelwatchError(f"keys file {self.path} is not a modelwatch keys file: expected "
                                  f'{{"keys": [...]}} with {", ".join(RECORD_FIELDS)} in every record')
        return {record["id"]: record for record in records}

    def _refresh(self, force: bool = False, check_now: bool = False) -> None:
        """Re-read the file if it changed (or if ``force``)."""
        now = time.monotonic()
        if not (force or check_now) and now < self._next_check:
            return
        with self._lock:
            self._next_check = now + self._recheck
            try:
                stat = self.path.stat()
                stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            except FileNotFoundError:
                stamp = None
            if not force and stamp == self._stamp:
                return
            try:
                records = self._read()
            except ModelwatchError as exc:
                if force:
                    raise
                # Keep serving the last good keys: one bad edit must not turn every request into a 500.
                self._stamp = stamp
                log.warning("%s; the keys read before stay in use", exc)
                if self._on_reload_failure:
                    self._on_reload_failure()
                return
            self._records = records
            self._stamp = stamp
            self._verified = {}

    def authenticate(self, presented: str) -> Client | None:
        """The client a presented key belongs to, or None."""
        self._refresh()
        client = self._match(presented)
        if client is None:
            # Match again even when this thread did not re-read the file: another
            # thread may have re-read it while this one waited for the lock.
            self._refresh(check_now=True)
            client = self._match(presented)
        return client

    def _match(self, presented: str) -> Client | None:
        known = self._verified.get(presented)
        if known is not None:
            return known
        match = KEY_PATTERN.match(presented)
        record = self._records.get(match.group(1)) if match else None
        if record is None:
            # Hash anyway, so unknown ids take as long as wrong secrets.
            hmac.compare_digest(_digest("00", presented), "0" * 64)
            return None
        if not hmac.compare_digest(_digest(record["salt"], match.group(2)), record["sha256"]):
            return None
        client = Client(key_id=record["id"], name=record["name"], role=record["role"])
        if len(self._verified) < 4096:
            self._verified[presented] = client
        return client

    def add(self, name: str, role: str = "user") -> str:
        """Create a key for ``name``; returns the key, which is not stored."""
        with self._changing() as records:
            return self._add_record(records, name, role)

    @staticmethod
    def _add_record(records: dict[str, dict], name: str, role: str) -> str:
        if not NAME_PATTERN.match(name):
            raise ModelwatchError(f"invalid client name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
        if role not in ROLES:
            raise ModelwatchError(f"invalid role {role!r}: choose one of {', '.join(ROLES)}")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(24)
        salt = secrets.token_hex(16)
        records[key_id] = {
            "id": key_id,
            "name": name,
            "role": role,
            "salt": salt,
            "sha256": _digest(salt, secret),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        return f"mw_{key_id}_{secret}"

    def renew(self, name: str, role: str = "user") -> str:
        """A fresh key for ``name``, its older keys removed (a key is shown only once, so
        a program that needs one each run, like ``modelwatch load``, makes a new one)."""
        with self._changing() as records:
            older = [key_id for key_id, record in records.items() if record["name"] == name]
            key = self._add_record(records, name, role)  # validates the name before anything is removed
            for key_id in older:
                del records[key_id]
            return key

    def ensure(self, name: str, role: str = "user") -> str | None:
        """A new key for ``name`` unless it already has one (then None): checked and added under one lock."""
        with self._changing() as records:
            if any(r["name"] == name for r in records.values()):
                return None
            return self._add_record(records, name, role)

    def remove(self, name_or_id: str) -> int:
        with self._changing() as records:
            removed = [k for k, r in records.items() if name_or_id in (r["id"], r["name"])]
            if not removed:
                raise ModelwatchError(f"no key with name or id {name_or_id!r}")
            for key_id in removed:
                del records[key_id]
            return len(removed)

    def clients(self) -> list[dict]:
        """Every key's id, name, role and creation time (never the hash)."""
        return [
            {k: r[k] for k in ("id", "name", "role", "created")}
            for r in sorted(self._read().values(), key=lambda r: r["created"])
        ]

    @contextmanager
    def _changing(self):
        """The current records, under the lock, written back (0600, atomically) if the block succeeds."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_file = self.path.with_name(self.path.name + ".lock")
        with open(os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            records = self._read()
            yield records
            write_json_atomically(self.path, {"keys": list(records.values())})  # mkstemp: 0600
        self._refresh(force=True)
