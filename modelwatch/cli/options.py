"""Options several commands share, defined once (as pip's cmdoptions): a
setting of the configuration given on the command line, whose help shows the
value in use (read from the configuration, never a copy of the default), and
durations such as 300s, 5m or 1h.

    setting(parser, config.service, "port", "port to bind")   # --port, "(now: 8000)"
    config = with_settings(config, "service", args)            # what was given, applied
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from typing import Any

from modelwatch.core.config import Config

DURATION = re.compile(r"(\d+(?:\.\d+)?)([smh]?)")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def duration(text: str) -> float:
    """Seconds from "90", "90s", "5m" or "1h"; argparse names the option when this refuses."""
    match = DURATION.fullmatch(text.strip())
    if not match or float(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"expected a duration like 300s, 5m or 1h, not {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def setting(parser: argparse.ArgumentParser, section: Any, field: str, help: str, flag: str | None = None,
            **kwargs) -> None:
    """``--field`` (or ``flag``) overriding ``section.field`` for this run; its help shows the value in use."""
    current = getattr(section, field)
    kind = type(current) if isinstance(current, (int, float)) and not isinstance(current, bool) else str
    parser.add_argument(flag or f"--{field.replace('_', '-')}", dest=field, type=kind, default=None,
                        help=f"{help} (now: {current})", **kwargs)


def with_settings(config: Config, section: str, args: argparse.Namespace) -> Config:
    """``config`` with every setting of ``section`` given on the command line applied."""
    current = getattr(config, section)
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(current)
             if getattr(args, f.name, None) is not None}
    return dataclasses.replace(config, **{section: dataclasses.replace(current, **given)}) if given else config


def prometheus_url(parser: argparse.ArgumentParser, config: Config, help: str) -> None:
    default = f"http://{config.prometheus.host}:{config.prometheus.port}"
    parser.add_argument("--prometheus-url", metavar="URL", help=f"{help} (now: {default})")
