"""Files written whole or not at all, readable by their owner only.

A reader (Prometheus reloading its configuration, a worker re-reading the keys file) sees
the old file or the new one, never half of either: the text goes to a temporary file in
the same folder, is flushed to disk, then renamed over the old name. A failure (a full
disk) leaves the old file and no temporary one. The mode is 0600 because these files
hold secrets: key hashes, the metrics token, the probe's API key, webhook URLs.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomically(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # the content is on disk before the name points at it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json_atomically(path: Path, document: Any) -> Path:
    return write_atomically(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
