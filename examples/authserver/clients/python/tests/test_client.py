"""Unit tests: the HTTP layer is faked in-process with httpx.MockTransport."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

import authclient
from authclient import (
    AuthClient,
    AuthClientError,
    AuthenticationError,
    ConflictError,
    PermissionDeniedError,
    ServerError,
    TokenPair,
    TransportError,
    User,
    ValidationError,
)

BASE = "http://auth.test"
USER_JSON = {
    "id": 1,
    "email": "ada@example.com",
    "full_name": "Ada",
    "is_active": True,
    "created_at": "2024-06-01T12:00:00Z",
}


def pair(n: int) -> dict[str, Any]:
    return {
        "access_token": f"access-{n}",
        "refresh_token": f"refresh-{n}",
        "token_type": "bearer",
        "expires_in": 900,
    }


Handler = Callable[[httpx.Request], httpx.Response]


class FakeServer:
    """Records requests and answers them with a handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)


@pytest.fixture()
def make_client() -> Iterator[Callable[[Handler], tuple[AuthClient, FakeServer]]]:
    clients: list[AuthClient] = []

    def factory(handler: Handler) -> tuple[AuthClient, FakeServer]:
        server = FakeServer(handler)
        client = AuthClient(BASE + "/", transport=httpx.MockTransport(server))
        clients.append(client)
        return client, server

    yield factory
    for client in clients:
        client.close()


MakeClient = Callable[[Handler], tuple[AuthClient, FakeServer]]


def test_version_matches_the_package_metadata() -> None:
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    declared = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.M)
    assert declared is not None
    assert authclient.__version__ == declared.group(1)


def test_register(make_client: MakeClient) -> None:
    client, server = make_client(lambda r: httpx.Response(201, json=USER_JSON))
    user = client.register("ada@example.com", "pw-12345678", full_name="Ada")
    assert user == User(
        id=1,
        email="ada@example.com",
        full_name="Ada",
        is_active=True,
        created_at=datetime(2024, 6, 1, 12, tzinfo=timezone.utc),
    )
    assert server.last.method == "POST"
    assert str(server.last.url) == f"{BASE}/auth/register"
    assert json_body(server.last) == {
        "email": "ada@example.com",
        "password": "pw-12345678",
        "full_name": "Ada",
    }


def test_register_without_full_name(make_client: MakeClient) -> None:
    naive = dict(USER_JSON, full_name=None, created_at="2024-06-01T12:00:00")
    client, server = make_client(lambda r: httpx.Response(201, json=naive))
    user = client.register("ada@example.com", "pw-12345678")
    assert user.full_name is None
    assert user.created_at == datetime(2024, 6, 1, 12)
    assert "full_name" not in json_body(server.last)


def test_register_conflict(make_client: MakeClient) -> None:
    client, _ = make_client(
        lambda r: httpx.Response(409, json={"detail": "Email already registered"})
    )
    with pytest.raises(ConflictError) as info:
        client.register("ada@example.com", "pw-12345678")
    assert info.value.status_code == 409
    assert str(info.value) == "Email already registered"
    assert isinstance(info.value, AuthClientError)


def test_validation_error_keeps_detail(make_client: MakeClient) -> None:
    detail = [{"loc": ["body", "email"], "msg": "bad"}]
    client, _ = make_client(lambda r: httpx.Response(422, json={"detail": detail}))
    with pytest.raises(ValidationError) as info:
        client.register("nope", "pw")
    assert info.value.detail == detail


def test_login_sends_form_and_stores_tokens(make_client: MakeClient) -> None:
    client, server = make_client(lambda r: httpx.Response(200, json=pair(1)))
    tokens = client.login("ada@example.com", "pw-12345678")
    assert tokens == TokenPair("access-1", "refresh-1", "bearer", 900)
    assert client.tokens == tokens
    request = server.last
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {
        "username": ["ada@example.com"],
        "password": ["pw-12345678"],
    }


def test_login_bad_credentials(make_client: MakeClient) -> None:
    client, _ = make_client(
        lambda r: httpx.Response(401, json={"detail": "Incorrect email or password"})
    )
    with pytest.raises(AuthenticationError, match="Incorrect email"):
        client.login("ada@example.com", "wrong")
    assert client.tokens is None


def test_login_inactive(make_client: MakeClient) -> None:
    client, _ = make_client(
        lambda r: httpx.Response(403, json={"detail": "Inactive user"})
    )
    with pytest.raises(PermissionDeniedError):
        client.login("ada@example.com", "pw-12345678")


def test_me_uses_stored_access_token(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/login":
            return httpx.Response(200, json=pair(1))
        assert request.headers["authorization"] == "Bearer access-1"
        return httpx.Response(200, json=USER_JSON)

    client, _ = make_client(handler)
    client.login("ada@example.com", "pw-12345678")
    assert client.me().email == "ada@example.com"


def test_me_with_explicit_token(make_client: MakeClient) -> None:
    client, server = make_client(lambda r: httpx.Response(200, json=USER_JSON))
    client.me("explicit")
    assert server.last.headers["authorization"] == "Bearer explicit"


def test_me_without_login_raises_before_any_request(make_client: MakeClient) -> None:
    client, server = make_client(lambda r: httpx.Response(500))
    with pytest.raises(AuthenticationError, match="not logged in"):
        client.me()
    assert server.requests == []


def test_refresh_rotates_stored_tokens(make_client: MakeClient) -> None:
    issued = iter([pair(1), pair(2)])
    client, server = make_client(lambda r: httpx.Response(200, json=next(issued)))
    client.login("ada@example.com", "pw-12345678")
    tokens = client.refresh()
    assert json_body(server.last) == {"refresh_token": "refresh-1"}
    assert tokens.access_token == "access-2"
    assert client.tokens == tokens


def test_refresh_revoked(make_client: MakeClient) -> None:
    client, _ = make_client(
        lambda r: httpx.Response(401, json={"detail": "Refresh token has been revoked"})
    )
    with pytest.raises(AuthenticationError, match="revoked"):
        client.refresh("old")


def test_logout_clears_tokens(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/login":
            return httpx.Response(200, json=pair(1))
        return httpx.Response(204)

    client, server = make_client(handler)
    client.login("ada@example.com", "pw-12345678")
    client.logout()
    assert json_body(server.last) == {"refresh_token": "refresh-1"}
    assert client.tokens is None


def test_logout_other_token_keeps_stored(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/login":
            return httpx.Response(200, json=pair(1))
        return httpx.Response(204)

    client, _ = make_client(handler)
    client.login("ada@example.com", "pw-12345678")
    client.logout("someone-elses")
    assert client.tokens is not None


def test_health(make_client: MakeClient) -> None:
    client, _ = make_client(
        lambda r: httpx.Response(200, json={"status": "ok", "database": "ok"})
    )
    assert client.health() == {"status": "ok", "database": "ok"}


def test_health_unavailable(make_client: MakeClient) -> None:
    body = {"status": "error", "database": "unavailable"}
    client, _ = make_client(lambda r: httpx.Response(503, json=body))
    with pytest.raises(ServerError) as info:
        client.health()
    assert info.value.status_code == 503
    assert info.value.detail == body


def test_non_json_error(make_client: MakeClient) -> None:
    client, _ = make_client(lambda r: httpx.Response(502, text="Bad Gateway"))
    with pytest.raises(ServerError, match="Bad Gateway"):
        client.health()


def test_unexpected_status(make_client: MakeClient) -> None:
    client, _ = make_client(lambda r: httpx.Response(418))
    with pytest.raises(AuthClientError) as info:
        client.health()
    assert type(info.value) is AuthClientError
    assert str(info.value) == "HTTP 418"


def test_success_without_json(make_client: MakeClient) -> None:
    client, _ = make_client(lambda r: httpx.Response(200, text="hello"))
    with pytest.raises(AuthClientError, match="expected a JSON body"):
        client.health()


def test_transport_error(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client, _ = make_client(handler)
    with pytest.raises(TransportError, match="connection refused"):
        client.health()


def test_context_manager_closes() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={}))
    with AuthClient(BASE, transport=transport) as client:
        assert client.base_url == BASE
    assert client._http.is_closed
