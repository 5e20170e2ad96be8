"""Database reads and writes used by the routes and the seed script."""

from __future__ import annotations

import uuid

from notes_core import extract_tags, slugify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.security import get_password_hash, verify_password
from app.models import Item, User


def get_user_by_email(*, session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email)).first()


def create_user(
    *, session: Session, email: str, password: str, is_superuser: bool = False
) -> User:
    user = User(
        email=email,
        hashed_password=get_password_hash(password),
        is_superuser=is_superuser,
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    user = get_user_by_email(session=session, email=email)
    if user is None or not verify_password(password, user.hashed_password):
        return None
    return user


def create_item(
    *, session: Session, owner_id: uuid.UUID, title: str, description: str | None
) -> Item:
    tags = extract_tags(f"{title} {description or ''}")
    item = Item(
        title=title,
        slug=slugify(title),
        description=description,
        tags=",".join(tags),
        owner_id=owner_id,
    )
    session.add(item)
    session.commit()
    session.refresh(item)
    return item


def list_items(
    *, session: Session, owner_id: uuid.UUID, skip: int = 0, limit: int = 100
) -> tuple[list[Item], int]:
    where = Item.owner_id == owner_id
    count = session.scalar(select(func.count()).select_from(Item).where(where)) or 0
    rows = session.scalars(
        select(Item).where(where).order_by(Item.created_at).offset(skip).limit(limit)
    ).all()
    return list(rows), count
