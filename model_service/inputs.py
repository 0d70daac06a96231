"""A request the client must fix (``InputError``: a JSON error naming the
field), and the text form of a number the API accepts in a query or form.
The rules per model are in ``model_service.tabular``."""

from __future__ import annotations

import re
from typing import Any

NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


class InputError(Exception):
    """A request the client must fix: becomes a JSON error with this status."""

    def __init__(self, message: str, field: str | None = None, status: int = 400, code: str = "invalid_input",
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
        self.code = code
        self.headers = headers or {}  # e.g. a 429's Retry-After

    def body(self) -> dict[str, Any]:
        error = {"status": self.status, "code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}
