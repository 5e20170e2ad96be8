"""Response models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Optional


def _parse_datetime(value: str) -> datetime:
    # datetime.fromisoformat only accepts a trailing "Z" from Python 3.11 on.
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class User:
    id: int
    email: str
    full_name: Optional[str]
    is_active: bool
    created_at: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> User:
        return cls(
            id=int(data["id"]),
            email=str(data["email"]),
            full_name=data.get("full_name"),
            is_active=bool(data.get("is_active", True)),
            created_at=_parse_datetime(str(data["created_at"])),
        )


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenPair:
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            token_type=str(data.get("token_type", "bearer")),
            expires_in=int(data["expires_in"]),
        )
