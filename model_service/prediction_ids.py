"""Prediction ids that carry what was predicted: a label sent days later with
the id can be joined to its prediction by any worker of any replica, with no
shared database — the id itself holds the model, version, time and output,
signed with a key every replica shares (so a client cannot forge one).

    token = PredictionIds(key).issue("penguins", "v2", "Adelie")
    PredictionIds(key).read(token).output    # "Adelie"

The key lives in a 0600 file (created on first use) or comes from the
environment; tokens signed with another key are refused.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import itertools
import os
import secrets
import time
from dataclasses import dataclass

import orjson

from modelwatch.core.errors import ModelwatchError

SIGNATURE_BYTES = 16
MAX_TOKEN_LENGTH = 512


class InvalidPredictionId(ModelwatchError):
    pass


@dataclass(frozen=True)
class Prediction:
    model: str
    version: str
    output: str | float  # the predicted class, or a regressor's value
    issued: float  # Unix time


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    # base64url without padding; binascii straight, as base64.urlsafe_b64encode's layers cost as much again
    return binascii.b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=").decode()


_FROM_URL_SAFE = bytes.maketrans(b"-_", b"+/")


def _unb64(text: str) -> bytes:
    # binascii straight too: base64.urlsafe_b64decode's layers were a quarter of reading an id
    return binascii.a2b_base64((text + "=" * (-len(text) % 4)).encode("ascii").translate(_FROM_URL_SAFE))


class PredictionIds:
    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ModelwatchError("the prediction-id key must be at least 16 bytes")
        self._key = key
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)  # copied per id: the key's blocks hashed once
        self._serial = itertools.count()  # next() is atomic under the GIL
        self._process = None  # (pid, random prefix): made again after a fork, so workers never share one

    def _nonce_prefix(self) -> str:
        """The process's part of each id's nonce: a serial after it makes the nonce unique per id (two rows
        predicted alike in the same millisecond are still two predictions, each to be labelled once)."""
        if self._process is None or self._process[0] != os.getpid():
            self._process = (os.getpid(), _b64(secrets.token_bytes(6)))
        return self._process[1]

    def _sign(self, payload: str) -> str:
        keyed = self._keyed.copy()  # HMAC-SHA256 as hmac.digest computes it, at half the cost per id
        keyed.update(payload.encode())
        return _b64(keyed.digest()[:SIGNATURE_BYTES])

    def issue(self, model: str, version: str, output: str | float, issued: float | None = None) -> str:
        return self.issue_many(model, version, [output], issued)[0]

    def issue_many(self, model: str, version: str, outputs: list, issued: float | None = None) -> list[str]:
        """One id per output, issued together (one clock read, the loop's lookups bound once)."""
        issued = round(issued if issued is not None else time.time(), 3)
        dumps, sign, prefix, serial = orjson.dumps, self._sign, self._nonce_prefix(), self._serial
        ids = []
        for output in outputs:  # one per answered row: the fast encoder, the key's hashing done once
            payload = _b64(dumps([model, version, output, issued, f"{prefix}{next(serial):x}"]))
            ids.append(f"{payload}.{sign(payload)}")
        return ids

    def read(self, token: str) -> Prediction:
        """The prediction a token names, or InvalidPredictionId."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1 or not token.isascii():
            raise InvalidPredictionId("not a prediction id")  # ids are base64url: non-ASCII cannot be one
        payload, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidPredictionId("not a prediction id of this service (bad signature)")
        try:
            model, version, output, issued, *_nonce = orjson.loads(_unb64(payload))  # ids before 2026-12-01 had none
        except (ValueError, TypeError):  # orjson.JSONDecodeError is a ValueError
            raise InvalidPredictionId("not a prediction id") from None
        return Prediction(model, version, output, float(issued))
