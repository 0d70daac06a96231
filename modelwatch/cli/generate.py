"""modelwatch generate: write every generated file the repository commits — rule
files, dashboards and provisioning, the Kubernetes manifests' generated parts,
the compose deployment's Prometheus and Alertmanager files — in dependency
order, from one configuration; --check only says which would change."""

from __future__ import annotations

from pathlib import Path

from modelwatch.core.config import Config
from modelwatch.core.errors import ModelwatchError
from modelwatch.generate import REPO_ROOT, differences, write


def add_arguments(parser, config: Config) -> None:
    parser.add_argument("--out", metavar="DIR", type=Path, default=REPO_ROOT,
                        help=f"the checkout to write into (default: {REPO_ROOT})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming every file that would change")
    parser.add_argument("--defaults", action="store_true",
                        help="ignore modelwatch.yaml and MODELWATCH_* settings: the committed files are the defaults'")


def run(args, config) -> int:
    config = Config() if args.defaults else config
    if args.check:
        changed = differences(config, args.out)
        if changed:
            raise ModelwatchError(f"{len(changed)} generated files are stale ({', '.join(changed[:5])}"
                                  f"{', ...' if len(changed) > 5 else ''}): run modelwatch generate --defaults")
        print("every generated file is up to date")
        return 0
    try:
        written = write(config, args.out)
    except OSError as exc:
        raise ModelwatchError(f"cannot write {exc.filename or args.out}: {exc.strerror}") from None
    for path in written:
        print(path)
    return 0
