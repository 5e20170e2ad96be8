"""Integration tests against a live server named by AUTH_SERVER_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from authclient import AuthClient, AuthenticationError, ConflictError

SERVER_URL = os.environ.get("AUTH_SERVER_URL", "").strip()

pytestmark = pytest.mark.skipif(
    not SERVER_URL,
    reason="AUTH_SERVER_URL is not set (e.g. export "
    "AUTH_SERVER_URL=http://127.0.0.1:8000 with the server running)",
)

PASSWORD = "integration-password-1"


@pytest.fixture()
def client() -> Iterator[AuthClient]:
    with AuthClient(SERVER_URL) as auth:
        yield auth


@pytest.fixture()
def email() -> str:
    return f"py-it-{uuid.uuid4().hex}@example.com"


def test_health(client: AuthClient) -> None:
    assert client.health() == {"status": "ok", "database": "ok"}


def test_full_flow(client: AuthClient, email: str) -> None:
    user = client.register(email, PASSWORD, full_name="Integration Test")
    assert user.email == email and user.is_active

    with pytest.raises(ConflictError):
        client.register(email, PASSWORD)
    with pytest.raises(AuthenticationError):
        client.login(email, "not-the-password")

    first = client.login(email, PASSWORD)
    assert client.me().id == user.id

    second = client.refresh()
    assert second.refresh_token != first.refresh_token
    assert client.me().email == email
    with pytest.raises(AuthenticationError):
        client.refresh(first.refresh_token)  # rotated away

    client.logout()
    assert client.tokens is None
    with pytest.raises(AuthenticationError):
        client.refresh(second.refresh_token)  # revoked


def test_me_rejects_bad_token(client: AuthClient) -> None:
    with pytest.raises(AuthenticationError):
        client.me("not-a-token")
