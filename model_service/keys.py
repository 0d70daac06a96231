"""API keys: created once, shown once, stored as salted hashes.

A key reads ``mw_<id>_<secret>``. The keys file stores, per id, the client name,
role, salt and sha256(salt + secret); the id finds the record and the hash is
compared in constant time. Keys are random 192-bit secrets, so a fast hash is
enough (as for other high-entropy API tokens); a slow password hash would cost
every request milliseconds. Neither keys nor hashes are ever logged or used as
metric labels: only the client name is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from modelwatch.models.registry import write_json_atomically
from modelwatch.core.errors import ModelwatchError

ROLES = ("user", "admin")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KEY_PATTERN = re.compile(r"^mw_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$")


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
    key stops working within that second."""

    def __init__(self, path: Path, recheck_seconds: float = 1.0):
        self.path = Path(path)
        self._recheck = recheck_seconds
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
        return {record["id"]: record for record in document.get("keys", [])}

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
            self._records = self._read()
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
        if not NAME_PATTERN.match(name):
            raise ModelwatchError(f"invalid client name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
        if role not in ROLES:
            raise ModelwatchError(f"invalid role {role!r}: choose one of {', '.join(ROLES)}")
        records = self._read()
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
        self._write(records)
        return f"mw_{key_id}_{secret}"

    def renew(self, name: str, role: str = "user") -> str:
        """A fresh key for ``name``, its older keys removed (a key is shown only once, so
        a program that needs one each run, like ``modelwatch load``, makes a new one)."""
        if any(client["name"] == name for client in self.clients()):
            self.remove(name)
        return self.add(name, role)

    def remove(self, name_or_id: str) -> int:
        records = self._read()
        kept = {k: r for k, r in records.items() if name_or_id not in (r["id"], r["name"])}
        if len(kept) == len(records):
            raise ModelwatchError(f"no key with name or id {name_or_id!r}")
        self._write(kept)
        return len(records) - len(kept)

    def clients(self) -> list[dict]:
        """Every key's id, name, role and creation time (never the hash)."""
        return [
            {k: r[k] for k in ("id", "name", "role", "created")}
            for r in sorted(self._read().values(), key=lambda r: r["created"])
        ]

    def _write(self, records: dict[str, dict]) -> None:
        write_json_atomically(self.path, {"keys": list(records.values())})
        os.chmod(self.path, 0o600)
        self._refresh(force=True)
