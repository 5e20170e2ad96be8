"""Password hashing (stdlib PBKDF2) and JWT helpers (PyJWT)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

from app.config import Settings

PBKDF2_ALGORITHM = "pbkdf2_sha256"
# OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
DEFAULT_PBKDF2_ITERATIONS = 600_000
# Work factor for new hashes; the test suite lowers it to stay fast.
PBKDF2_ITERATIONS = DEFAULT_PBKDF2_ITERATIONS
SALT_BYTES = 16

ACCESS = "access"
REFRESH = "refresh"


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, iterations: int | None = None) -> str:
    """Hash ``password`` with a fresh random salt.

    The result is ``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>`` so the
    work factor can be raised later without invalidating stored hashes.
    """
    rounds = iterations or PBKDF2_ITERATIONS
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, rounds)
    return f"{PBKDF2_ALGORITHM}${rounds}${_b64encode(salt)}${_b64encode(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Check ``password`` against a hash from :func:`hash_password`."""
    try:
        algorithm, rounds_text, salt_b64, digest_b64 = encoded.split("$")
        rounds = int(rounds_text)
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
    except (ValueError, TypeError):
        return False
    if algorithm != PBKDF2_ALGORITHM or rounds <= 0:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, rounds)
    return hmac.compare_digest(digest, expected)


class TokenError(Exception):
    """A JWT was malformed, expired, badly signed or of the wrong type."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _encode(
    settings: Settings, subject: str, token_type: str, lifetime: timedelta
) -> IssuedToken:
    now = utcnow()
    expires_at = now + lifetime
    jti = uuid.uuid4().hex
    payload: dict[str, Any] = {
        "sub": subject,
        "type": token_type,
        "jti": jti,
        "iat": now,
        "exp": expires_at,
    }
    token = jwt.encode(payload, settings.secret_key, algorithm=settings.jwt_algorithm)
    return IssuedToken(token=token, jti=jti, expires_at=expires_at)


def create_access_token(settings: Settings, user_id: int) -> IssuedToken:
    lifetime = timedelta(minutes=settings.access_token_expire_minutes)
    return _encode(settings, str(user_id), ACCESS, lifetime)


def create_refresh_token(settings: Settings, user_id: int) -> IssuedToken:
    lifetime = timedelta(days=settings.refresh_token_expire_days)
    return _encode(settings, str(user_id), REFRESH, lifetime)


def decode_token(settings: Settings, token: str, expected_type: str) -> dict[str, Any]:
    """Verify signature, expiry and token type; return the claims."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[settings.jwt_algorithm],
            options={"require": ["exp", "sub", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("Token has expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("Invalid token") from exc
    if claims.get("type") != expected_type:
        raise TokenError(f"Expected a {expected_type} token")
    return claims
