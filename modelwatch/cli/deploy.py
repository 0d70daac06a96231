"""modelwatch deploy: set the stable version (blue/green) and an optional canary.

Running services pick the change up within service.reload_poll_seconds; the
versions are loaded and verified before the deployment is written.
"""

from __future__ import annotations

import argparse

from modelwatch.models.registry import Deployment, Registry
from modelwatch.model_service.tabular import load_version
from modelwatch.core.config import Config


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    parser.add_argument("--stable", metavar="VERSION", help="version that takes the traffic (default: the current one)")
    parser.add_argument("--canary", metavar="VERSION", help="version that takes --weight of the traffic")
    parser.add_argument("--weight", type=float, default=None, help="canary share of traffic, 0..1 (default 0.1)")
    parser.add_argument("--no-canary", action="store_true", help="remove the canary")


def run(args: argparse.Namespace, config: Config) -> int:
    registry = Registry(config.paths.registry_dir, config.model.name, config.paths.registry_key_file)
    current = registry.deployment()
    canary = None if args.no_canary else (args.canary or current.canary)
    weight = 0.0 if canary is None else (args.weight if args.weight is not None else (current.canary_weight or 0.1))
    deployment = Deployment(stable=args.stable or current.stable, canary=canary, canary_weight=weight)
    for version in deployment.versions:
        load_version(registry, version, config.service.predictor)  # raises with the reason if unusable
    registry.set_deployment(deployment)
    described = f"stable {deployment.stable}"
    if deployment.canary:
        described += f", canary {deployment.canary} at {deployment.canary_weight:.0%}"
    print(f"deployed {config.model.name}: {described}")
    return 0
