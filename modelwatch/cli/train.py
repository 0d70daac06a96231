"""modelwatch train: fit the Iris example and register it as a new version."""

from __future__ import annotations

import argparse

from modelwatch.models.registry import Registry
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

    registered = train(config, args.model_version)
    quality = registered.quality
    print(f"registered {registered.name} {registered.version} in {registered.folder}: accuracy "
          f"{quality['accuracy']:.3f}, F1 {quality['f1_macro']:.3f} on {quality['rows']} held-out rows; "
          "its ONNX form agrees with scikit-learn")
    for warning in registered.warnings:
        print(f"warning: {warning}")
    return 0
