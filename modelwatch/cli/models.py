"""modelwatch models: register a version of your own model from its artifact
and reference data (add), list what is registered (list), remove a model or a
version that does not serve (remove), sign versions registered before the
registry key existed (sign)."""

from __future__ import annotations

import argparse
from pathlib import Path

from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError
from modelwatch.models.registry import Registry


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="register a new version of model NAME",
                             description="Register a new version: the artifact is checked against the reference "
                                         "data before anything is written.")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--artifact", type=Path, required=True,
                     help="the fitted model: .skops, .onnx, .ubj/.xgb.json (XGBoost), .lgb.txt (LightGBM), "
                          "or .joblib/.pkl with --trust-pickle")
    add.add_argument("--reference", type=Path, required=True,
                     help="reference data, CSV or Parquet: held-out rows, not the ones the model was fitted on")
    add.add_argument("--target", metavar="COLUMN", help="the reference's label column: the model's quality on it "
                                                         "is what live quality is compared with")
    add.add_argument("--task", choices=("classification", "regression"), help="(default: from the model)")
    add.add_argument("--schema", type=Path, metavar="FILE", help="YAML overriding the inferred schema per feature "
                                                                  "(kind, unit, minimum, maximum, categories, allow_missing)")
    add.add_argument("--version", help="version name (default: next vN)")
    add.add_argument("--onnx", type=Path, metavar="FILE", help="the same model as ONNX, checked to answer alike")
    add.add_argument("--trust-pickle", action="store_true",
                     help="load a joblib/pickle artifact, which runs code from the file")
    add.add_argument("--trust-type", action="append", default=[], metavar="TYPE",
                     help="a type a .skops file may hold beyond skops' trusted set (repeat for each)")
    actions.add_parser("list", help="the registered models, their versions and what serves")
    remove = actions.add_parser("remove", help="remove NAME (every version) or NAME/VERSION (one that does not serve)")
    remove.add_argument("target", metavar="NAME[/VERSION]")
    sign = actions.add_parser("sign", help="sign NAME's versions (or NAME/VERSION) with the registry key",
                              description="Vouch for versions the service refuses as unsigned (registered before "
                                          "the registry key, or copied in): only those whose files match the "
                                          "sha256s in their metadata are signed.")
    sign.add_argument("target", metavar="NAME[/VERSION]")


def run(args: argparse.Namespace, config: Config) -> int:
    return {"add": _add, "list": _list, "remove": _remove, "sign": _sign}[args.action](args, config)


def _add(args: argparse.Namespace, config: Config) -> int:
    from modelwatch.model_service.registration import Request, register

    registered = register(config, Request(
        args.name, args.artifact, args.reference, args.target, args.task, args.schema, args.version, args.onnx,
        args.trust_pickle, tuple(args.trust_type)))
    schema = registered.schema
    kinds = {kind: sum(f.kind == kind for f in schema.features) for kind in ("numeric", "categorical")}
    quality = ", ".join(f"{k} {v:g}" for k, v in registered.quality.items() if isinstance(v, float))
    print(f"registered {registered.name} {registered.version} ({schema.task}; {kinds['numeric']} numeric and "
          f"{kinds['categorical']} categorical features; {registered.series} series per replica"
          + (f"; on the reference: {quality}" if quality else "") + ")")
    for warning in registered.warnings:
        print(f"warning: {warning}")
    print(f"written {registered.folder}")
    return 0


def _list(args: argparse.Namespace, config: Config) -> int:
    names = Registry.models(config.paths.registry_dir)
    if not names:
        print(f"no models in {config.paths.registry_dir}: modelwatch models add NAME --artifact ... --reference ...")
        return 0
    for name in names:
        registry = Registry(config.paths.registry_dir, name)
        serving = registry.serving_versions()
        roles = {v: ("stable" if i == 0 else "canary") for i, v in enumerate(serving)}
        versions = ", ".join(f"{v} ({roles[v]})" if v in roles else v for v in registry.versions()) or "no versions"
        default = " [default]" if name == config.model.name else ""
        print(f"{name}{default}: {versions}")
    return 0


def _remove(args: argparse.Namespace, config: Config) -> int:
    name, _, version = args.target.partition("/")
    registry = Registry(config.paths.registry_dir, name)
    if not registry.name_is_valid() or (version and version not in registry.versions()):
        raise ModelwatchError(f"no {args.target!r} in {config.paths.registry_dir}")
    if version:
        registry.remove_version(version)
    else:
        if name == config.model.name:
            raise ModelwatchError(f"{name} is the service's default model (model.name): choose another first")
        registry.remove()
    print(f"removed {args.target}")
    return 0


def _sign(args: argparse.Namespace, config: Config) -> int:
    name, _, version = args.target.partition("/")
    registry = Registry(config.paths.registry_dir, name, config.paths.registry_key_file)
    versions = [version] if version else registry.versions()
    if not registry.name_is_valid() or not versions or not set(versions) <= set(registry.versions()):
        raise ModelwatchError(f"no {args.target!r} in {config.paths.registry_dir}")
    for each in versions:
        try:
            registry.sign_version(each)
        except OSError as exc:
            raise ModelwatchError(f"cannot sign {name}/{each}: {exc.filename}: {exc.strerror}") from None
        print(f"signed {name}/{each} with {registry.key_file}")
    return 0
