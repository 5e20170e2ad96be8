from pathlib import Path

import pytest

from app.core.config import BACKEND_DIR, Settings


def test_database_url_is_built_from_postgres_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SQLITE_PATH", raising=False)
    s = Settings(
        _env_file=None,
        POSTGRES_SERVER="db.internal",
        POSTGRES_PORT=6543,
        POSTGRES_USER="notes",
        POSTGRES_PASSWORD="s3cr%t",
        POSTGRES_DB="notes",
        SQLITE_PATH=None,
    )
    assert (
        s.SQLALCHEMY_DATABASE_URI
        == "postgresql+psycopg://notes:s3cr%25t@db.internal:6543/notes"
    )


def test_sqlite_is_used_only_when_a_path_is_set() -> None:
    s = Settings(_env_file=None, SQLITE_PATH="data/app.db", POSTGRES_PASSWORD="x")
    assert s.SQLALCHEMY_DATABASE_URI == f"sqlite:///{BACKEND_DIR / 'data/app.db'}"
    absolute = Path("/tmp/notes.db")
    s = Settings(_env_file=None, SQLITE_PATH=str(absolute), POSTGRES_PASSWORD="x")
    assert s.SQLALCHEMY_DATABASE_URI == f"sqlite:///{absolute}"


def test_default_secrets_are_refused_outside_local() -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(_env_file=None, ENVIRONMENT="production", SECRET_KEY="changethis")
