from __future__ import annotations

from pathlib import Path

import pytest

from app.config import (
    SERVER_DIR,
    Settings,
    SettingsError,
    get_database_url,
    resolve_database_url,
)


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "SECRET_KEY",
        "DATABASE_URL",
        "ACCESS_TOKEN_EXPIRE_MINUTES",
        "REFRESH_TOKEN_EXPIRE_DAYS",
        "LOG_LEVEL",
        "PASSWORD_HASH_ITERATIONS",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_secret_key_is_required(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env()


def test_settings_from_env(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("SECRET_KEY", "abc")
    env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    env.setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "30")
    env.setenv("REFRESH_TOKEN_EXPIRE_DAYS", "2")
    env.setenv("LOG_LEVEL", "DEBUG")
    settings = Settings.from_env()
    assert settings.secret_key == "abc"
    assert settings.database_url == f"sqlite:///{tmp_path / 'x.db'}"
    assert settings.access_token_expire_minutes == 30
    assert settings.refresh_token_expire_days == 2
    assert settings.log_level == "debug"


def test_defaults(env: pytest.MonkeyPatch) -> None:
    env.setenv("SECRET_KEY", "abc")
    settings = Settings.from_env()
    assert settings.database_url == f"sqlite:///{SERVER_DIR / 'data' / 'app.db'}"
    assert settings.access_token_expire_minutes == 15
    assert settings.refresh_token_expire_days == 7
    assert settings.log_level == "info"
    assert settings.password_hash_iterations is None


def test_password_hash_iterations_from_env(env: pytest.MonkeyPatch) -> None:
    env.setenv("SECRET_KEY", "abc")
    env.setenv("PASSWORD_HASH_ITERATIONS", "2000")
    assert Settings.from_env().password_hash_iterations == 2000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "soon"),
        ("REFRESH_TOKEN_EXPIRE_DAYS", "0"),
        ("LOG_LEVEL", "verbose"),
        ("PASSWORD_HASH_ITERATIONS", "999"),
        ("PASSWORD_HASH_ITERATIONS", "many"),
    ],
)
def test_invalid_values(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv("SECRET_KEY", "abc")
    env.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        Settings.from_env()


def test_relative_sqlite_path_resolves_against_server_dir(tmp_path: Path) -> None:
    resolved = resolve_database_url("sqlite:///nested/dir/dev.db", base_dir=tmp_path)
    assert resolved == f"sqlite:///{tmp_path / 'nested' / 'dir' / 'dev.db'}"
    assert (tmp_path / "nested" / "dir").is_dir()


def test_env_relative_sqlite_path(env: pytest.MonkeyPatch) -> None:
    env.setenv("DATABASE_URL", "sqlite:///data/app.db")
    assert get_database_url() == f"sqlite:///{SERVER_DIR / 'data' / 'app.db'}"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://user:pw@127.0.0.1:5432/app",
    ],
)
def test_other_urls_unchanged(url: str) -> None:
    assert resolve_database_url(url) == url


def test_absolute_sqlite_path_unchanged(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'abs.db'}"
    assert resolve_database_url(url) == url
