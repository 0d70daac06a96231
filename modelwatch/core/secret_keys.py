"""Random keys kept in 0600 files: the prediction-id key, the registry's signing key.

Several processes may ask for a key that does not exist yet (every worker starts at once):
the first to link its file into place wins and the others read that one, so all of them
hold the same key and none ever reads a half-written file.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import tempfile
from pathlib import Path

from modelwatch.core.errors import ModelwatchError

KEY_BYTES = 32


def _encode(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()  # base64url without padding


def read_key(path: Path) -> bytes:
    """The key in ``path``; FileNotFoundError when there is none, ModelwatchError when it is not a key."""
    text = Path(path).read_text().strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ModelwatchError(f"{path} does not hold a key (base64url text)") from None
    if len(key) < 16:
        raise ModelwatchError(f"{path} holds a key of {len(key)} bytes: at least 16 are needed")
    return key


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``, or a new random one written there (0600) when there is none."""
    path = Path(path)
    try:
        return read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
    try:
        with os.fdopen(descriptor, "w") as handle:
            key = secrets.token_bytes(KEY_BYTES)
            handle.write(_encode(key) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # appears whole or not at all; the first process's wins
        except FileExistsError:
            return read_key(path)
    finally:
        os.unlink(temporary)
    return key
