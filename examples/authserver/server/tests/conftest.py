"""Test fixtures.

Schema: if ``DATABASE_URL`` is set (e.g. a tool handed us a fresh database) it
is used and migrated to head; otherwise a throwaway SQLite file is created.
Either way the schema comes from the Alembic migrations, as in production.
Tests use unique emails, so a shared or reused database is fine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# app.main builds an app at import time, which needs a SECRET_KEY.
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from app import security  # noqa: E402
from app.config import Settings, resolve_database_url  # noqa: E402
from app.main import create_app  # noqa: E402

SERVER_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


def alembic_config(url: str) -> Config:
    config = Config(str(SERVER_DIR / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    return config


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """PBKDF2 at 600k rounds is deliberately slow; tests don't need that."""
    patch = pytest.MonkeyPatch()
    patch.setattr(security, "PBKDF2_ITERATIONS", 1_000)
    yield
    patch.undo()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    url = resolve_database_url(url)
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        secret_key="test-secret-key-not-for-production",
        database_url=database_url,
        access_token_expire_minutes=5,
        refresh_token_expire_days=1,
    )


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture()
def email() -> str:
    return unique_email()


@pytest.fixture()
def registered(client: TestClient, email: str) -> dict[str, str]:
    response = client.post(
        "/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    return {"email": email, "password": PASSWORD}


@pytest.fixture()
def tokens(client: TestClient, registered: dict[str, str]) -> dict[str, str]:
    response = client.post(
        "/auth/login",
        data={"username": registered["email"], "password": registered["password"]},
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body
