"""Typed client for the authserver example API."""

from authclient.client import AuthClient
from authclient.errors import (
    AuthClientError,
    AuthenticationError,
    ConflictError,
    PermissionDeniedError,
    ServerError,
    TransportError,
    ValidationError,
)
from authclient.models import TokenPair, User

__version__ = "0.1.0"

__all__ = [
    "AuthClient",
    "AuthClientError",
    "AuthenticationError",
    "ConflictError",
    "PermissionDeniedError",
    "ServerError",
    "TokenPair",
    "TransportError",
    "User",
    "ValidationError",
    "__version__",
]
