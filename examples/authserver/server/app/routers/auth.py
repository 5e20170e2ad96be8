"""Registration, login, token refresh and logout."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.config import Settings
from app.deps import DbSession, SettingsDep, unauthorized
from app.models import RefreshToken, User
from app.schemas import RefreshRequest, TokenPair, UserCreate, UserRead
from app.security import (
    REFRESH,
    TokenError,
    create_access_token,
    create_refresh_token,
    decode_token,
    hash_password,
    utcnow,
    verify_password,
)

router = APIRouter(prefix="/auth", tags=["auth"])


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _issue_tokens(db: Session, settings: Settings, user: User) -> TokenPair:
    access = create_access_token(settings, user.id)
    refresh = create_refresh_token(settings, user.id)
    db.add(
        RefreshToken(jti=refresh.jti, user_id=user.id, expires_at=refresh.expires_at)
    )
    db.commit()
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh.token,
        expires_in=settings.access_token_expire_minutes * 60,
    )


def _load_refresh_token(db: Session, settings: Settings, token: str) -> RefreshToken:
    try:
        claims = decode_token(settings, token, REFRESH)
    except TokenError as exc:
        raise unauthorized(str(exc)) from exc
    record = db.scalar(select(RefreshToken).where(RefreshToken.jti == claims["jti"]))
    if record is None or str(record.user_id) != claims["sub"]:
        raise unauthorized("Unknown refresh token")
    return record


@router.post("/register", response_model=UserRead, status_code=status.HTTP_201_CREATED)
def register(body: UserCreate, db: DbSession, settings: SettingsDep) -> User:
    if db.scalar(select(User.id).where(User.email == body.email)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "Email already registered")
    user = User(
        email=body.email,
        password_hash=hash_password(
            body.password, iterations=settings.password_hash_iterations
        ),
        full_name=body.full_name,
    )
    db.add(user)
    try:
        db.commit()
    except IntegrityError:  # lost a race with a concurrent registration
        db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, "Email already registered")
    db.refresh(user)
    return user


@router.post("/login", response_model=TokenPair)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DbSession,
    settings: SettingsDep,
) -> TokenPair:
    email = form.username.strip().lower()
    user = db.scalar(select(User).where(User.email == email))
    if user is None or not verify_password(form.password, user.password_hash):
        raise unauthorized("Incorrect email or password")
    if not user.is_active:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Inactive user")
    return _issue_tokens(db, settings, user)


@router.post("/refresh", response_model=TokenPair)
def refresh(body: RefreshRequest, db: DbSession, settings: SettingsDep) -> TokenPair:
    """Exchange a refresh token for a new pair; the old one is revoked."""
    record = _load_refresh_token(db, settings, body.refresh_token)
    if record.revoked_at is not None:
        raise unauthorized("Refresh token has been revoked")
    if _as_utc(record.expires_at) <= utcnow():
        raise unauthorized("Refresh token has expired")
    user = db.get(User, record.user_id)
    if user is None or not user.is_active:
        raise unauthorized("User not found or inactive")
    record.revoked_at = utcnow()
    return _issue_tokens(db, settings, user)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(body: RefreshRequest, db: DbSession, settings: SettingsDep) -> Response:
    """Revoke a refresh token. Revoking an already revoked token is a no-op."""
    record = _load_refresh_token(db, settings, body.refresh_token)
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
