"""Endpoints about the signed-in user."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import CurrentUser
from app.models import User
from app.schemas import UserRead

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserRead)
def read_me(user: CurrentUser) -> User:
    return user
