"""Engine and session factory; ``init_db`` seeds the first superuser."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from app import crud
from app.core.config import settings
from app.models import User

connect_args = {"check_same_thread": False} if settings.SQLITE_PATH else {}
engine = create_engine(
    settings.SQLALCHEMY_DATABASE_URI, pool_pre_ping=True, connect_args=connect_args
)
SessionLocal = sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)


def init_db(session: Session) -> User:
    """Create the first superuser (FIRST_SUPERUSER) unless it exists."""
    user = crud.get_user_by_email(session=session, email=settings.FIRST_SUPERUSER)
    if user is None:
        user = crud.create_user(
            session=session,
            email=settings.FIRST_SUPERUSER,
            password=settings.FIRST_SUPERUSER_PASSWORD,
            is_superuser=True,
        )
    return user
