"""Signed versions: an HMAC-SHA256 of a version's ``metadata.json``, made at registration
with a key kept outside the registry (``paths.registry_key_path``).

The metadata lists the sha256 of every file of the version and whether its artifact may
be unpickled, so a signature that verifies vouches for them all: whoever can write the
registry but not read the key cannot swap an artifact, or its recorded sha256, without
the service refusing the version before it opens the artifact.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from modelwatch.core.files import write_atomically

SIGNATURE_FILE = "metadata.sig"
METADATA_FILE = "metadata.json"


def signature_of(key: bytes, metadata: bytes) -> str:
    return hmac.new(key, metadata, hashlib.sha256).hexdigest()


def sign(folder: Path, key: bytes) -> None:
    """Write the signature of ``folder``'s metadata beside it."""
    write_atomically(Path(folder) / SIGNATURE_FILE, signature_of(key, (Path(folder) / METADATA_FILE).read_bytes()) + "\n")


def matches(folder: Path, metadata: bytes, key: bytes) -> bool | None:
    """Whether ``metadata`` (as read from ``folder``) carries a valid signature; None when unsigned."""
    try:
        recorded = (Path(folder) / SIGNATURE_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return hmac.compare_digest(recorded, signature_of(key, metadata))
