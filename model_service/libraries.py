"""The libraries a registered model was saved with, against those it is served with.

Registration records the versions (``running()``); loading compares
(``mismatches()``): a model pickled or saved with skops by one scikit-learn may
answer differently, or not load, under another. A mismatch is reported — a log
line and ``model_library_version_mismatch`` — not refused: the probe rows'
recorded answers already refuse a version that answers differently.
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
from typing import Mapping, NamedTuple

LIBRARIES = ("scikit-learn", "numpy", "pandas", "skops", "onnxruntime", "xgboost", "lightgbm")


class Mismatch(NamedTuple):
    library: str
    registered: str
    running: str  # "" when the library is not installed here


@functools.cache  # installed versions do not change while a process runs; every version load asks
def running() -> dict[str, str]:
    """Python and each library installed here, by version (do not change the returned dict)."""
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def _comparable(library: str, version: str) -> str:
    # Python's patch releases keep pickles and the C API: the minor version is what matters.
    return ".".join(version.split(".")[:2]) if library == "python" else version


def mismatches(registered: Mapping[str, str], here: Mapping[str, str] | None = None) -> list[Mismatch]:
    """The recorded libraries whose version differs here (or that are missing here)."""
    here = running() if here is None else here
    return [Mismatch(name, version, here.get(name, ""))
            for name, version in sorted(registered.items())
            if _comparable(name, version) != _comparable(name, here.get(name, ""))]
