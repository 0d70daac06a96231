"""The optional parts of modelwatch (pyproject's extras) and the one-line error
that names the extra to install when one is missing. The images install one
extra each: the service image "serve", the exporter image "exporter"."""

from __future__ import annotations

import importlib.util

from modelwatch.core.errors import ModelwatchError

# extra -> the top-level modules it brings that modelwatch imports
MODULES: dict[str, tuple[str, ...]] = {
    "serve": ("flask", "gunicorn", "sklearn", "skl2onnx", "onnxruntime", "orjson", "joblib", "swagger_ui",
              "pandas", "pyarrow", "skops", "grpc", "grpc_health", "google.protobuf"),
    "exporter": ("docker", "kubernetes", "grpc", "google.protobuf"),
    "xgboost": ("xgboost",),
    "lightgbm": ("lightgbm",),
    "load": ("locust", "sklearn", "grpc", "google.protobuf"),
    "report": ("matplotlib",),
}
# module -> extra; where two extras bring one module (sklearn), the first listed wins
EXTRA_OF = {module: extra for extra, modules in reversed(MODULES.items()) for module in modules}


class MissingExtra(ModelwatchError):
    def __init__(self, extra: str, modules: list[str]):
        super().__init__(f"this needs the '{extra}' extra ({', '.join(modules)} not installed): "
                         f"pip install 'modelwatch[{extra}]'")


def require(extra: str) -> None:
    """Fail early, before a subprocess (gunicorn, Locust) would fail with a traceback."""
    missing = [m for m in MODULES[extra] if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(extra, missing)


def explain(error: ModuleNotFoundError) -> MissingExtra | None:
    """The missing extra behind an import error, or None if it is not an optional module."""
    module = (error.name or "").split(".")[0]
    return MissingExtra(EXTRA_OF[module], [module]) if module in EXTRA_OF else None
