from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.config import Settings
from app.db import create_db_engine, create_session_factory
from app.main import create_app
from app.models import User
from tests.conftest import PASSWORD, unique_email


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def set_active(settings: Settings, email: str, active: bool) -> None:
    engine = create_db_engine(settings.database_url)
    try:
        with create_session_factory(engine)() as session:
            session.execute(
                update(User).where(User.email == email).values(is_active=active)
            )
            session.commit()
    finally:
        engine.dispose()


# --- register ---------------------------------------------------------------


def test_register_returns_user(client: TestClient) -> None:
    email = unique_email("Ada")
    response = client.post(
        "/auth/register",
        json={"email": f"  {email.upper()} ", "password": PASSWORD, "full_name": "Ada"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == email.lower()
    assert body["full_name"] == "Ada"
    assert body["is_active"] is True
    assert isinstance(body["id"], int)
    assert "password" not in body and "password_hash" not in body


def test_register_duplicate_email_conflicts(
    client: TestClient, registered: dict[str, str]
) -> None:
    response = client.post(
        "/auth/register",
        json={"email": registered["email"].upper(), "password": PASSWORD},
    )
    assert response.status_code == 409
    assert response.json()["detail"] == "Email already registered"


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "a@example.com", "password": "short"},
        {"email": "a@example.com"},
    ],
)
def test_register_validates_input(client: TestClient, payload: dict[str, str]) -> None:
    assert client.post("/auth/register", json=payload).status_code == 422


# --- login ------------------------------------------------------------------


def test_login_returns_token_pair(
    client: TestClient, registered: dict[str, str], settings: Settings
) -> None:
    response = client.post(
        "/auth/login",
        data={"username": registered["email"], "password": registered["password"]},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_expire_minutes * 60
    claims = jwt.decode(body["access_token"], settings.secret_key, ["HS256"])
    assert claims["type"] == "access"


@pytest.mark.parametrize("which", ["password", "email"])
def test_login_rejects_bad_credentials(
    client: TestClient, registered: dict[str, str], which: str
) -> None:
    form = {"username": registered["email"], "password": registered["password"]}
    if which == "password":
        form["password"] = "wrong password!"
    else:
        form["username"] = unique_email("nobody")
    response = client.post("/auth/login", data=form)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_login_requires_form_encoding(
    client: TestClient, registered: dict[str, str]
) -> None:
    response = client.post(
        "/auth/login",
        json={"username": registered["email"], "password": registered["password"]},
    )
    assert response.status_code == 422


def test_inactive_user_cannot_log_in_or_use_tokens(
    client: TestClient,
    tokens: dict[str, str],
    registered: dict[str, str],
    settings: Settings,
) -> None:
    set_active(settings, registered["email"], False)
    response = client.post(
        "/auth/login",
        data={"username": registered["email"], "password": registered["password"]},
    )
    assert response.status_code == 403
    assert (
        client.get("/users/me", headers=bearer(tokens["access_token"])).status_code
        == 401
    )
    response = client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 401


# --- /users/me --------------------------------------------------------------


def test_me_returns_current_user(
    client: TestClient, tokens: dict[str, str], registered: dict[str, str]
) -> None:
    response = client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json()["email"] == registered["email"]


def test_me_requires_token(client: TestClient) -> None:
    response = client.get("/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_me_rejects_refresh_token(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/users/me", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401


def test_me_rejects_garbage_and_foreign_tokens(client: TestClient) -> None:
    assert client.get("/users/me", headers=bearer("garbage")).status_code == 401
    forged = jwt.encode(
        {
            "sub": "1",
            "type": "access",
            "jti": "x",
            "exp": datetime.now(timezone.utc) + timedelta(minutes=5),
        },
        "some-other-key-that-is-at-least-32-bytes",
        algorithm="HS256",
    )
    assert client.get("/users/me", headers=bearer(forged)).status_code == 401


def test_me_rejects_expired_token(
    client: TestClient, tokens: dict[str, str], settings: Settings
) -> None:
    claims = jwt.decode(tokens["access_token"], settings.secret_key, ["HS256"])
    claims["exp"] = datetime.now(timezone.utc) - timedelta(seconds=1)
    expired = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    response = client.get("/users/me", headers=bearer(expired))
    assert response.status_code == 401
    assert response.json()["detail"] == "Token has expired"


def test_me_rejects_token_for_unknown_user(
    client: TestClient, settings: Settings
) -> None:
    token = jwt.encode(
        {
            "sub": "999999999",
            "type": "access",
            "jti": "x",
            "exp": datetime.now(timezone.utc) + timedelta(minutes=5),
        },
        settings.secret_key,
        algorithm="HS256",
    )
    assert client.get("/users/me", headers=bearer(token)).status_code == 401


# --- refresh ----------------------------------------------------------------


def test_refresh_rotates_tokens(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 200
    new = response.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert (
        client.get("/users/me", headers=bearer(new["access_token"])).status_code == 200
    )
    # The old refresh token was revoked by the rotation.
    reused = client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert reused.status_code == 401
    assert reused.json()["detail"] == "Refresh token has been revoked"


def test_refresh_rejects_access_token(
    client: TestClient, tokens: dict[str, str]
) -> None:
    response = client.post(
        "/auth/refresh", json={"refresh_token": tokens["access_token"]}
    )
    assert response.status_code == 401


def test_refresh_rejects_unknown_token(
    client: TestClient, tokens: dict[str, str], settings: Settings
) -> None:
    claims = jwt.decode(tokens["refresh_token"], settings.secret_key, ["HS256"])
    claims["jti"] = "not-in-the-database"
    unknown = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    response = client.post("/auth/refresh", json={"refresh_token": unknown})
    assert response.status_code == 401
    assert response.json()["detail"] == "Unknown refresh token"


# --- logout -----------------------------------------------------------------


def test_logout_revokes_refresh_token(
    client: TestClient, tokens: dict[str, str]
) -> None:
    body = {"refresh_token": tokens["refresh_token"]}
    assert client.post("/auth/logout", json=body).status_code == 204
    assert client.post("/auth/refresh", json=body).status_code == 401
    # Logging out twice is harmless.
    assert client.post("/auth/logout", json=body).status_code == 204


def test_logout_rejects_invalid_token(client: TestClient) -> None:
    response = client.post("/auth/logout", json={"refresh_token": "garbage"})
    assert response.status_code == 401


def test_register_uses_the_configured_work_factor(settings: Settings) -> None:
    tuned = dataclasses.replace(settings, password_hash_iterations=2_000)
    email = unique_email("rounds")
    app = create_app(tuned)
    with TestClient(app) as client:
        response = client.post(
            "/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 201
    with app.state.session_factory() as db:
        user = db.scalar(select(User).where(User.email == email))
    assert user is not None
    assert user.password_hash.split("$")[1] == "2000"
