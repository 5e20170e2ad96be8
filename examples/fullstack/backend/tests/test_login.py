from fastapi.testclient import TestClient

from app.core.config import settings


def test_first_superuser_can_log_in(client: TestClient) -> None:
    r = client.post(
        f"{settings.API_V1_STR}/login/access-token",
        data={
            "username": settings.FIRST_SUPERUSER,
            "password": settings.FIRST_SUPERUSER_PASSWORD,
        },
    )
    assert r.status_code == 200
    tokens = r.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["access_token"]


def test_wrong_password_is_refused(client: TestClient) -> None:
    r = client.post(
        f"{settings.API_V1_STR}/login/access-token",
        data={"username": settings.FIRST_SUPERUSER, "password": "not-the-password"},
    )
    assert r.status_code == 400
    assert r.json()["detail"] == "Incorrect email or password"


def test_token_identifies_the_superuser(
    client: TestClient, superuser_token_headers: dict[str, str]
) -> None:
    r = client.post(
        f"{settings.API_V1_STR}/login/test-token", headers=superuser_token_headers
    )
    assert r.status_code == 200
    user = r.json()
    assert user["email"] == settings.FIRST_SUPERUSER
    assert user["is_superuser"] is True


def test_garbage_token_is_forbidden(client: TestClient) -> None:
    r = client.post(
        f"{settings.API_V1_STR}/login/test-token",
        headers={"Authorization": "Bearer not-a-jwt"},
    )
    assert r.status_code == 403
