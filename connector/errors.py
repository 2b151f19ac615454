"""Domain errors. The core raises these; each edge (API, SCIM, CLI, pages) translates them."""
from __future__ import annotations

from typing import Any


class ConnectorError(Exception):
    """Base of every domain error: a stable code, an HTTP status and a readable message."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class InvalidInput(ConnectorError):
    code = "invalid_input"
    status = 400


class NotFound(ConnectorError):
    code = "not_found"
    status = 404


class Conflict(ConnectorError):
    code = "conflict"
    status = 409


class Forbidden(ConnectorError):
    code = "forbidden"
    status = 403


class Unauthorized(ConnectorError):
    code = "unauthorized"
    status = 401


class LimitReached(ConnectorError):
    code = "limit_reached"
    status = 409


class AuthenticationFailed(ConnectorError):
    """Raised by providers at their edge when a sign-in cannot be accepted."""

    code = "authentication_failed"
    status = 401
