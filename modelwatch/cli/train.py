"""modelwatch train: fit the Iris classifier and register a new version."""

from __future__ import annotations

import argparse
import json

from modelwatch.models.registry import METADATA_FILE, Registry
from modelwatch.core.config import Config


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    parser.add_argument("--version", dest="model_version", metavar="NAME", help="version name (default: next vN)")
    parser.add_argument("--if-missing", action="store_true", help="do nothing when a version is already registered")


def run(args: argparse.Namespace, config: Config) -> int:
    registry = Registry(config.paths.registry_dir, config.model.name)
    if args.if_missing and registry.versions():
        print(f"model {config.model.name!r} has versions {', '.join(registry.versions())}; not training")
        return 0
    from modelwatch.model_service.training import train  # heavy imports only when training

    version, folder = train(config, args.model_version)
    metadata = json.loads((folder / METADATA_FILE).read_text())
    scores = metadata["metrics"]["validation"]
    print(
        f"registered {config.model.name} {version} in {folder}: validation accuracy {scores['accuracy']:.3f}, "
        f"F1 {scores['f1_macro']:.3f}; ONNX and fast predictors agree with scikit-learn on all rows"
    )
    return 0
