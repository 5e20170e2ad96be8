"""Settings read from the environment.

Environment variables:

``SECRET_KEY`` (required)
    Key used to sign JWTs.
``DATABASE_URL``
    SQLAlchemy URL. Defaults to ``sqlite:///data/app.db``. A *relative* SQLite
    path is resolved against the server folder (the folder holding ``app/`` and
    ``alembic.ini``), never against the current working directory, and its
    parent folder is created if needed.
``ACCESS_TOKEN_EXPIRE_MINUTES`` (int, default 15)
``REFRESH_TOKEN_EXPIRE_DAYS`` (int, default 7)
``LOG_LEVEL`` (debug|info|warning|error, default info)
``PASSWORD_HASH_ITERATIONS`` (int, at least 1000)
    PBKDF2 work factor for new password hashes; unset means the secure
    default (600,000). Test environments lower it so suites stay fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

SERVER_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "sqlite:///data/app.db"
LOG_LEVELS = ("debug", "info", "warning", "error")


class SettingsError(RuntimeError):
    """Raised when the environment does not hold a usable configuration."""


def resolve_database_url(url: str, base_dir: Path = SERVER_DIR) -> str:
    """Make a relative SQLite path absolute (against ``base_dir``).

    Other URLs are returned unchanged. For file-backed SQLite databases the
    parent folder is created so that a fresh checkout works out of the box.
    """
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return url
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    path = Path(database)
    if not path.is_absolute():
        path = base_dir / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def get_database_url() -> str:
    """The database URL from ``DATABASE_URL`` (or the default), resolved."""
    raw = os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    return resolve_database_url(raw)


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _iterations_env() -> int | None:
    if not os.environ.get("PASSWORD_HASH_ITERATIONS", "").strip():
        return None
    value = _int_env("PASSWORD_HASH_ITERATIONS", 0)
    if value < 1000:
        raise SettingsError(
            f"PASSWORD_HASH_ITERATIONS must be at least 1000, got {value}"
        )
    return value


@dataclass(frozen=True)
class Settings:
    secret_key: str
    database_url: str
    access_token_expire_minutes: int = 15
    refresh_token_expire_days: int = 7
    log_level: str = "info"
    jwt_algorithm: str = "HS256"
    # None: the security module's default work factor.
    password_hash_iterations: int | None = None

    @classmethod
    def from_env(cls) -> Settings:
        secret_key = os.environ.get("SECRET_KEY", "").strip()
        if not secret_key:
            raise SettingsError(
                "SECRET_KEY environment variable is required but not set. "
                "Set it to a long random string, e.g. "
                '`export SECRET_KEY="$(python -c '
                "'import secrets; print(secrets.token_hex(32))')\"`."
            )
        log_level = os.environ.get("LOG_LEVEL", "").strip().lower() or "info"
        if log_level not in LOG_LEVELS:
            raise SettingsError(
                f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}"
            )
        return cls(
            secret_key=secret_key,
            database_url=get_database_url(),
            access_token_expire_minutes=_int_env("ACCESS_TOKEN_EXPIRE_MINUTES", 15),
            refresh_token_expire_days=_int_env("REFRESH_TOKEN_EXPIRE_DAYS", 7),
            log_level=log_level,
            password_hash_iterations=_iterations_env(),
        )
