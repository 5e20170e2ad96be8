"""The synchronous client."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Optional

import httpx

from authclient.errors import (
    AuthClientError,
    AuthenticationError,
    TransportError,
    error_for_status,
)
from authclient.models import TokenPair, User


class AuthClient:
    """Client for the auth server.

    After :meth:`login` (or :meth:`refresh`) the client keeps the token pair in
    :attr:`tokens`, so :meth:`me`, :meth:`refresh` and :meth:`logout` can be
    called without arguments. Each also accepts an explicit token.

    Pass ``transport`` (e.g. ``httpx.MockTransport``) to fake the HTTP layer.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: Optional[httpx.BaseTransport] = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens: Optional[TokenPair] = None
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport
        )

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AuthClient:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    # -- operations ---------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /health``; raises :class:`ServerError` when it answers 503."""
        data: dict[str, Any] = self._request("GET", "/health")
        return data

    def register(
        self, email: str, password: str, full_name: Optional[str] = None
    ) -> User:
        """Create an account. Raises :class:`ConflictError` if the email is taken."""
        body: dict[str, Any] = {"email": email, "password": password}
        if full_name is not None:
            body["full_name"] = full_name
        return User.from_json(self._request("POST", "/auth/register", json=body))

    def login(self, email: str, password: str) -> TokenPair:
        """Exchange credentials for tokens (OAuth2 password form) and keep them."""
        data = self._request(
            "POST", "/auth/login", data={"username": email, "password": password}
        )
        self.tokens = TokenPair.from_json(data)
        return self.tokens

    def refresh(self, refresh_token: Optional[str] = None) -> TokenPair:
        """Rotate tokens: the old refresh token is revoked by the server."""
        token = refresh_token or self._stored("refresh_token")
        data = self._request("POST", "/auth/refresh", json={"refresh_token": token})
        self.tokens = TokenPair.from_json(data)
        return self.tokens

    def logout(self, refresh_token: Optional[str] = None) -> None:
        """Revoke the refresh token and forget the stored tokens."""
        token = refresh_token or self._stored("refresh_token")
        self._request("POST", "/auth/logout", json={"refresh_token": token})
        if self.tokens is not None and self.tokens.refresh_token == token:
            self.tokens = None

    def me(self, access_token: Optional[str] = None) -> User:
        """The user the access token belongs to."""
        token = access_token or self._stored("access_token")
        headers = {"Authorization": f"Bearer {token}"}
        return User.from_json(self._request("GET", "/users/me", headers=headers))

    # -- plumbing -----------------------------------------------------------

    def _stored(self, name: str) -> str:
        if self.tokens is None:
            raise AuthenticationError(f"No {name} given and not logged in")
        value: str = getattr(self.tokens, name)
        return value

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {path} failed: {exc}") from exc
        if response.status_code == 204:
            return None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_error:
            if isinstance(payload, dict) and "detail" in payload:
                detail = payload["detail"]
            else:
                detail = payload if payload is not None else (response.text or None)
            raise error_for_status(response.status_code, detail)
        if payload is None:
            raise AuthClientError(
                f"{method} {path}: expected a JSON body", response.status_code
            )
        return payload
