"""Exception hierarchy. Catch :class:`AuthClientError` to catch them all."""

from __future__ import annotations

from typing import Any, Optional


class AuthClientError(Exception):
    """Base class: the request failed, with the HTTP status when there was one."""

    def __init__(
        self, message: str, status_code: Optional[int] = None, detail: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.detail = detail


class TransportError(AuthClientError):
    """The server could not be reached (connection refused, timeout, ...)."""


class AuthenticationError(AuthClientError):
    """401: bad credentials, or a missing, expired or revoked token."""


class PermissionDeniedError(AuthClientError):
    """403: e.g. the account is inactive."""


class ConflictError(AuthClientError):
    """409: e.g. the email is already registered."""


class ValidationError(AuthClientError):
    """422: the server rejected the request body."""


class ServerError(AuthClientError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[AuthClientError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    409: ConflictError,
    422: ValidationError,
}


def error_for_status(status_code: int, detail: Any) -> AuthClientError:
    """Build the exception that matches an HTTP error response."""
    if isinstance(detail, str):
        message = detail
    elif detail is None:
        message = f"HTTP {status_code}"
    else:
        message = f"HTTP {status_code}: {detail}"
    if status_code >= 500:
        return ServerError(message, status_code, detail)
    cls = _BY_STATUS.get(status_code, AuthClientError)
    return cls(message, status_code, detail)
