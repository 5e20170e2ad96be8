from __future__ import annotations

import pytest

from app import security
from app.config import Settings


def test_hash_roundtrip_uses_per_user_salt() -> None:
    first = security.hash_password("s3cret-password")
    second = security.hash_password("s3cret-password")
    assert first != second
    assert first.startswith("pbkdf2_sha256$")
    assert security.verify_password("s3cret-password", first)
    assert security.verify_password("s3cret-password", second)
    assert not security.verify_password("wrong-password", first)


def test_hash_records_iterations() -> None:
    encoded = security.hash_password("pw", iterations=1234)
    assert encoded.split("$")[1] == "1234"
    assert security.verify_password("pw", encoded)


def test_default_iterations_are_strong() -> None:
    # The test suite lowers PBKDF2_ITERATIONS; the shipped default stays high.
    assert security.DEFAULT_PBKDF2_ITERATIONS >= 600_000


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "nonsense",
        "md5$1$abc$def",
        "pbkdf2_sha256$0$AAAA$AAAA",
        "pbkdf2_sha256$x$AAAA$AAAA",
    ],
)
def test_verify_rejects_malformed_hashes(encoded: str) -> None:
    assert not security.verify_password("pw", encoded)


def test_decode_checks_token_type() -> None:
    settings = Settings(secret_key="k" * 32, database_url="sqlite://")
    issued = security.create_refresh_token(settings, 7)
    assert security.decode_token(settings, issued.token, security.REFRESH)["sub"] == "7"
    with pytest.raises(security.TokenError):
        security.decode_token(settings, issued.token, security.ACCESS)
