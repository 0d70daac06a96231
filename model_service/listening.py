"""Whether a port is free before the workers share it."""

from __future__ import annotations

import errno
import socket


def grpc_port_taken(host: str, port: int) -> str | None:
    """A one-line reason when ``host:port`` is already in use. The workers bind it with
    SO_REUSEPORT, which would let them share it silently with any other process of the
    same user that did too (a second modelwatch service, say): so the master checks first,
    with a plain bind that fails if anyone listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"service.grpc_port {port} on {host} is in use by another process: choose another "
                        "(0 switches gRPC off)")
            return f"service.grpc_port {port} on {host}: cannot listen ({exc.strerror})"
    return None
