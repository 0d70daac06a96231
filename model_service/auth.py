"""API-key checks for views: ``X-API-Key`` header or ``key`` query parameter."""

from __future__ import annotations

import functools
import hmac

from flask import g, request

from modelwatch.model_service.inputs import InputError
from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.metrics import ServiceMetrics


class AuthError(InputError):
    pass


def require_key(keystore: KeyStore, metrics: ServiceMetrics | None, role: str = "user"):
    """Decorator: reject the request unless it carries a key (of ``role``)."""

    def fail(reason: str, status: int, message: str):
        if metrics:
            metrics.auth_failed(reason)
        raise AuthError(message, status=status, code=f"{reason}_key" if reason != "forbidden" else "forbidden")

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            req = request._get_current_object()  # one context lookup instead of one per attribute
            presented = req.headers.get("X-API-Key") or req.args.get("key")
            if not presented:
                fail("missing", 401, "an API key is required: send it as the X-API-Key header or the key parameter")
            client = keystore.authenticate(presented)
            if client is None:
                fail("unknown", 401, "the API key is not valid")
            if role == "admin" and client.role != "admin":
                fail("forbidden", 403, "this endpoint needs a key with the admin role")
            g.client = client
            if metrics:
                metrics.client_request(client.name, req.url_rule.rule)
            return view(*args, **kwargs)

        return guarded

    return decorate


def bearer_token_matches(expected: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())
