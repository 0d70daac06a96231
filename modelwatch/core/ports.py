"""Checks on the addresses modelwatch binds, made before a server starts."""

from __future__ import annotations

import socket

from modelwatch.core.errors import ModelwatchError


def check_port_free(host: str, port: int) -> None:
    """Raise a one-line error when ``host:port`` cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ModelwatchError(f"cannot bind {host}:{port}: {exc.strerror}") from None
